"""Machine-facing endpoints (Kestra-compatible paths under /api/v1/).

The webhook is called by other systems, so it is CSRF-exempt; its key is the credential. A wrong key
and an unknown flow get the same 404 body, and the key is compared in constant time. With ``wait: true``
it answers once the execution ended (200, with ``outputs`` under ``returnOutputs: true``), or after
``PORTICO_WEBHOOK_WAIT_SECONDS`` with 202 and the execution id to follow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orchestrator.executor.walker import FlowDisabled
from orchestrator.flowmodel import secrets_at_rest
from orchestrator.flowmodel.input_types import InputsInvalid, check_tree, depth_limit
from orchestrator.flowmodel.templating import TemplateError
from orchestrator.scheduler import triggers
from orchestrator.state.models import Execution
from portal.accounts.throttle import Limit, client_ip, hit

# Headers that carry the caller's credentials for *our* site, never useful to a flow.
_DROPPED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
_NOT_FOUND = {"message": "Not Found"}


class _BadBody(Exception):
    """The body is refused before any work is done: too large (413), too deep or not storable (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise _BadBody(400, f"The request body must not contain {name}: JSON has no such number.")


def _body(request: HttpRequest) -> Any:
    """The body as JSON when it is JSON, else as text. Its declared size is checked before it is read,
    and its depth while it is parsed, so a huge or deeply nested body costs next to nothing."""
    limit = int(getattr(settings, "PORTICO_MAX_WEBHOOK_BODY_BYTES", 1024 * 1024))
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit or len(request.body) > limit:
        raise _BadBody(413, f"The request body is larger than the {limit} bytes allowed.")
    raw = request.body.decode("utf-8", errors="replace")
    body: Any = raw
    if request.content_type == "application/json" or raw[:1] in ("{", "["):
        try:
            body = json.loads(raw, parse_constant=_refuse_constant) if raw else None
        except RecursionError:
            raise _BadBody(
                400, f"The request body is nested too deeply (at most {depth_limit()} levels)."
            ) from None
        except _BadBody:
            raise
        except ValueError:
            body = raw  # not JSON after all: the flow gets the text
    try:
        check_tree(body)  # depth, 1e999 read as Infinity, NUL characters: what the database cannot store
    except ValueError as exc:
        raise _BadBody(400, f"The request body {exc}.") from None
    return body


def _headers(request: HttpRequest) -> dict[str, list[str]]:
    return {
        name.lower(): [value]
        for name, value in request.headers.items()
        if name.lower() not in _DROPPED_HEADERS
    }


def rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """429 with ``Retry-After`` past PORTICO_WEBHOOK_RATE_PER_IP / _PER_KEY calls a minute (shared cache).

    Checked before anything else, so guessing keys and flooding one flow both cost little: the client IP
    first (one address cannot enumerate keys), then the webhook path with its key (many addresses cannot
    flood one flow).
    """

    @wraps(view)
    def limited(request: HttpRequest, namespace: str, flow_id: str, key: str) -> HttpResponse:
        retry_after = hit("webhook-ip", client_ip(request), Limit(settings.PORTICO_WEBHOOK_RATE_PER_IP, 60))
        if retry_after is None:
            target = f"{namespace}/{flow_id}/{key}"
            retry_after = hit("webhook-key", target, Limit(settings.PORTICO_WEBHOOK_RATE_PER_KEY, 60))
        if retry_after is not None:
            response = JsonResponse({"message": "Too Many Requests"}, status=429)
            response["Retry-After"] = str(retry_after)
            return response
        return view(request, namespace, flow_id, key)

    return limited


@csrf_exempt
@rate_limited
@transaction.non_atomic_requests  # ``wait: true`` polls for the end: never inside a transaction
@require_POST
def webhook(request: HttpRequest, namespace: str, flow_id: str, key: str) -> HttpResponse:
    try:
        body = _body(request)  # before the key is checked: refusing it costs less than any lookup
    except _BadBody as exc:
        return JsonResponse({"message": exc.message}, status=exc.status)
    try:
        execution = triggers.fire_webhook(
            namespace,
            flow_id,
            key,
            body=body,
            headers=_headers(request),
            parameters={k: request.GET.getlist(k) for k in request.GET},
        )
    except triggers.TriggerNotFound:
        return JsonResponse(_NOT_FOUND, status=404)
    except InputsInvalid as exc:
        return JsonResponse({"message": "Invalid inputs", "errors": exc.errors}, status=400)
    except TemplateError as exc:
        return JsonResponse({"message": f"Invalid inputs: {exc}"}, status=400)
    except FlowDisabled:
        return JsonResponse(_NOT_FOUND, status=404)
    if execution is None:  # the trigger's conditions did not hold: nothing started
        return HttpResponse(status=204)
    reply = triggers.webhook_reply(execution)
    if not reply.wait:
        return JsonResponse(_summary(execution))
    execution = triggers.await_end(execution.pk, timeout=triggers.webhook_wait_seconds())
    if not execution.is_terminal:  # still running: the caller follows it by id
        return JsonResponse(_summary(execution), status=202)
    body = _summary(execution)
    if reply.return_outputs:
        body["outputs"] = secrets_at_rest.masked(execution.outputs or {})  # sealed values as ******
    return JsonResponse(body)


def _summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": str(execution.pk),
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "state": execution.state,
    }
