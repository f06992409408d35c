"""The operations endpoints: ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.infra import health, metrics


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health.run_checks()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


@require_GET
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text (``/metrics``), when METRICS_ENABLED: for staff sessions, or for a
    scraper sending ``Authorization: Bearer <METRICS_TOKEN>``."""
    if not settings.METRICS_ENABLED:
        raise Http404("Metrics are off")
    if not (request.user.is_authenticated and request.user.is_staff or _has_metrics_token(request)):
        response = HttpResponse("Staff session or bearer token required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


def _has_metrics_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given, token)
