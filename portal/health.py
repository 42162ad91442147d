"""Liveness for container healthchecks and load balancers: ``GET /healthz``.

A probe calls ``http://127.0.0.1:8000/healthz`` from inside the container. Production settings would
redirect that to HTTPS (``SECURE_SSL_REDIRECT``) and refuse its Host header (``ALLOWED_HOSTS``), so the
probe would fail on a healthy server; this middleware sits first and answers before either applies. It
says only whether the database answers, nothing about the installation.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

PATH = "/healthz"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
        return HttpResponse("ok\n", content_type="text/plain")
