"""Machine-facing endpoints (Kestra-compatible paths under /api/v1/).

The webhook is called by other systems, so it is CSRF-exempt; its key is the credential. A wrong key
and an unknown flow get the same 404 body, and the key is compared in constant time. With ``wait: true``
it answers once the execution ended (200, with ``outputs`` under ``returnOutputs: true``), or after
``PORTICO_WEBHOOK_WAIT_SECONDS`` with 202 and the execution id to follow.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orchestrator.executor.walker import FlowDisabled
from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.flowmodel.templating import TemplateError
from orchestrator.scheduler import triggers
from orchestrator.state.models import Execution

# Headers that carry the caller's credentials for *our* site, never useful to a flow.
_DROPPED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
_NOT_FOUND = {"message": "Not Found"}


def _body(request: HttpRequest) -> Any:
    raw = request.body.decode("utf-8", errors="replace")
    if request.content_type == "application/json" or raw[:1] in ("{", "["):
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            pass
    return raw


def _headers(request: HttpRequest) -> dict[str, list[str]]:
    return {
        name.lower(): [value]
        for name, value in request.headers.items()
        if name.lower() not in _DROPPED_HEADERS
    }


@csrf_exempt
@transaction.non_atomic_requests  # ``wait: true`` polls for the end: never inside a transaction
@require_POST
def webhook(request: HttpRequest, namespace: str, flow_id: str, key: str) -> HttpResponse:
    try:
        execution = triggers.fire_webhook(
            namespace,
            flow_id,
            key,
            body=_body(request),
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
        body["outputs"] = execution.outputs or {}
    return JsonResponse(body)


def _summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": str(execution.pk),
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "state": execution.state,
    }
