from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.infra import metrics
from sandbox import runner


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": "ok", "sandbox": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        checks["database"] = f"down: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}"
    sandbox_problem = runner.ping()
    if sandbox_problem:
        checks["sandbox"] = f"down: {sandbox_problem}"
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
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


def _has_metrics_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given, token)
