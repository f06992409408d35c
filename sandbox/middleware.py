"""Gives a sandbox run's slot back after the response that actually leaves the site.

``sandbox.views.sandbox_api`` frees a run's slot (an advisory lock held by the request's
database connection) when its response is closed, after the server has sent it. A middleware
further in may still replace that response (a session that was deleted meanwhile turns into
400, a database error into 503); the replaced response is never closed, and the connection
would go back to the pool still holding the slot. This middleware, the outermost, hands the
same release to whatever response leaves the site (releasing twice is harmless).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ReleaseSandboxSlotMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        held = getattr(request, "sandbox_held", None)
        if held is not None:
            # Django runs these when the server closes the response, before request_finished
            # returns the connection to the pool.
            response._resource_closers.append(held.close)
        return response
