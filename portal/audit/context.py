"""Who is acting, for audit rows written from signals that do not say (m2m changes, admin log entries).

``AuditContextMiddleware`` keeps the current request in a context variable for the length of the
request; outside a request (a management command, a worker) there is no actor and rows say "system".
The admin mixin (``admin_changes.AuditedAdminMixin``) also leaves field-level changes here for the
admin log entry that follows, so one admin action gives one audit row.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

_request: ContextVar[HttpRequest | None] = ContextVar("portico_audit_request", default=None)
_PENDING = "_portico_audit_changes"


def current_request() -> HttpRequest | None:
    return _request.get()


def current_actor() -> Any:
    """The signed-in user of the current request, or None (the system)."""
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def note_changes(target: tuple[str, str], changes: dict[str, Any]) -> None:
    """Field changes of ``target`` (type, id) for the admin log entry of the same request to pick up."""
    request = _request.get()
    if request is not None:
        pending = getattr(request, _PENDING, None)
        if pending is None:
            pending = {}
            setattr(request, _PENDING, pending)
        pending[target] = changes


def take_changes(target: tuple[str, str]) -> dict[str, Any] | None:
    request = _request.get()
    pending = getattr(request, _PENDING, None) if request is not None else None
    return pending.pop(target, None) if pending else None


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
