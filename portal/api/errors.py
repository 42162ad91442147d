"""The API's one error body: ``{"error": {"code", "message", "fields"}}`` for every status.

Each exception the services raise maps to one status here, so an endpoint only calls the service and
the mapping is written once: a forbidden role is 403, an object one may not see 404 (never 403: its
existence is not theirs to know), a state that no longer allows the action 409, a request the schema
refuses 400, values it allows but the rules refuse (a flow's inputs) 422; ``fields`` names each wrong one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from orchestrator.executor.control import ControlError
from orchestrator.flowmodel.input_types import InputsInvalid
from portal.approvals.services import DecisionError
from portal.requests.self_service import NotCancellable
from portal.requests.services import RequestNotAllowed
from portal.resources.services import ActionNotAllowed

from .tokens import TokenInvalid

logger = logging.getLogger(__name__)

_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "unprocessable",
    429: "rate_limited",
    500: "server_error",
}


# Every status an endpoint may answer with besides success; each has the one error body.
# 400: the request does not match the schema; 422: it does, but the values are wrong (a flow's inputs,
# an unknown cost center): what no schema can say.
ERRORS = frozenset({400, 401, 403, 404, 409, 422})


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ErrorOut(Schema):
    error: ErrorDetail


class ApiError(Exception):
    """Raised by an endpoint for an answer that is not a service's exception (e.g. a bad cost center)."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def body(status: int, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": _CODES.get(status, "error"), "message": message, "fields": fields or {}}}


def _field_name(loc: list[Any]) -> str:
    """``["query", "per_page"]`` → ``per_page``; ``["body", "payload", "inputs", "x"]`` → ``inputs.x``."""
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "payload", "header", "cookie")]
    return ".".join(parts) or "body"


def _validation_fields(errors: list[dict[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in errors[:50]:
        fields.setdefault(_field_name(list(error.get("loc") or [])), str(error.get("msg", "invalid"))[:300])
    return fields


def install(api: NinjaAPI) -> None:
    """Route every exception through ``body``: what the services raise and what ninja raises."""

    def reply(request: HttpRequest, status: int, message: str, fields: dict[str, str] | None = None):
        return api.create_response(request, body(status, message, fields), status=status)

    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        if isinstance(exc, ApiError):
            return reply(request, exc.status, exc.message, exc.fields)
        if isinstance(exc, ValidationError):
            return reply(request, 400, "invalid request", _validation_fields(exc.errors))
        if isinstance(exc, InputsInvalid):
            return reply(
                request, 422, "invalid inputs", {f"inputs.{k}": str(v) for k, v in exc.errors.items()}
            )
        if isinstance(exc, TokenInvalid):
            return reply(request, 422, "invalid token", exc.fields)
        if isinstance(exc, AuthenticationError):
            return reply(request, 401, "authentication required: a bearer token or a session")
        if isinstance(exc, Throttled):
            return reply(request, 429, str(exc))
        if isinstance(exc, HttpError):
            return reply(request, exc.status_code, str(exc))
        if isinstance(exc, Http404 | ObjectDoesNotExist):
            return reply(request, 404, str(exc) or "not found")
        if isinstance(exc, PermissionDenied):
            return reply(request, 403, str(exc) or "forbidden")
        if isinstance(exc, DecisionError | NotCancellable | ActionNotAllowed | RequestNotAllowed):
            return reply(request, 409, str(exc))
        if isinstance(exc, ControlError):
            return reply(request, 409, str(exc))
        logger.exception("API error on %s %s", request.method, request.path)
        return reply(request, 500, "internal error")

    api.add_exception_handler(Exception, handle)
    for kind in (Http404, HttpError, ValidationError):  # ninja registers its own for these: replace them
        api.add_exception_handler(kind, handle)
