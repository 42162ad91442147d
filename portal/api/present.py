"""Models as the API shows them: masked like the pages (the executions' selectors do the masking)."""

from __future__ import annotations

from typing import Any

from orchestrator.flowmodel.masking import MASK
from orchestrator.flowmodel.spec import Flow
from orchestrator.state.models import Execution, LogLine, TaskRun
from portal.audit.models import AuditEvent
from portal.catalog.models import CatalogFlow
from portal.executions import selectors as executions
from portal.requests.models import ResourceRequest
from portal.requests.services import form_input_ids
from portal.resources.models import Resource

from .models import ApiToken


def flow_inputs(flow: Flow) -> list[dict[str, Any]]:
    """The inputs a person fills in (``requests.services.form_input_ids``), as the form declares them."""
    wanted = set(form_input_ids(flow))
    return [
        {
            "id": spec.id,
            "type": spec.type,
            "label": spec.label,
            "required": spec.required,
            "description": spec.description,
            "defaults": MASK if spec.type == "SECRET" and spec.defaults is not None else spec.defaults,
            "values": spec.values if isinstance(spec.values, list) else None,
        }
        for spec in flow.inputs
        if spec.id in wanted
    ]


def catalog_flow(entry: CatalogFlow, *, source: bool = False) -> dict[str, Any]:
    flow = entry.parse()
    out = {
        "namespace": entry.namespace,
        "id": entry.flow_id,
        "title": entry.title,
        "description": entry.description,
        "revision": entry.revision,
        "labels": entry.labels or {},
        "needs_approval": entry.needs_approval,
        "inputs": flow_inputs(flow),
    }
    if source:
        out["source"] = entry.source
    return out


def request(obj: ResourceRequest) -> dict[str, Any]:
    return {
        "id": obj.pk,
        "flow": str(obj.catalog_flow),
        "namespace": obj.catalog_flow.namespace,
        "flow_id": obj.catalog_flow.flow_id,
        "flow_revision": obj.flow_revision,
        "flow_commit": obj.flow_commit,
        "state": obj.state,
        "requester": obj.requester.get_username(),
        "cost_center": obj.cost_center.code,
        "inputs": dict(obj.inputs),  # SECRET values live in ``secret_inputs`` only
        "execution_id": str(obj.execution_id) if obj.execution_id else None,
        "created": obj.created,
        "decided_at": obj.decided_at,
        "finished_at": obj.finished_at,
    }


def execution(obj: Execution, request_id: int | None) -> dict[str, Any]:
    view = executions.execution_view(obj)  # refreshes the row; outputs masked
    secrets = executions.secrets_of(obj, view["flow"])
    runs = TaskRun.objects.filter(execution=obj).order_by("created", "id")
    return {
        "id": str(obj.pk),
        "namespace": obj.namespace,
        "flow_id": obj.flow_id,
        "state": obj.state,
        "terminal": obj.is_terminal,
        "request_id": request_id,
        "parent_id": str(obj.parent_id) if obj.parent_id else None,
        "original_id": str(obj.original_id) if obj.original_id else None,
        "created": obj.created,
        "started": obj.started,
        "ended": obj.ended,
        "outputs": view["outputs"],
        "task_runs": [
            {
                "id": str(run.pk),
                "task_id": run.task_id,
                "parent_id": str(run.parent_id) if run.parent_id else None,
                "value": executions.mask_value(run.value, secrets),
                "state": run.state,
                "attempts": run.attempts,
            }
            for run in runs
        ],
    }


def log_line(line: LogLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "timestamp": line.timestamp,
        "level": line.level,
        "task_id": line.taskrun.task_id if line.taskrun_id else None,
        "message": line.message,  # masked by ``executions.log_lines``
    }


def resource(obj: Resource) -> dict[str, Any]:
    return {
        "id": obj.pk,
        "kind": obj.kind,
        "name": obj.name,
        "namespace": obj.namespace,
        "state": obj.state,
        "provider_id": obj.provider_id,
        "ipv4": obj.ipv4,
        "ipv6": obj.ipv6,
        "owner": obj.owner.get_username(),
        "cost_center": obj.cost_center.code,
        "request_id": obj.request_id,
        "actions": sorted(obj.actions or {}),
        "monthly_cost": str(obj.monthly_cost),
        "hourly_cost": str(obj.hourly_cost),
        "created": obj.created,
        "expires_at": obj.expires_at,
        "destroyed_at": obj.destroyed_at,
    }


def audit_event(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "created": event.created,
        "actor": event.actor_repr,
        "verb": event.verb,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "flow": event.flow,
        "cost_center": event.cost_center.code if event.cost_center_id else None,
        "details": event.details or {},
        "hash": event.hash,
    }


def token(obj: ApiToken) -> dict[str, Any]:
    return {
        "id": obj.pk,
        "name": obj.name,
        "prefix": obj.prefix,
        "namespaces": obj.namespaces,
        "verbs": obj.verbs,
        "created": obj.created,
        "expires_at": obj.expires_at,
        "revoked_at": obj.revoked_at,
        "last_used_at": obj.last_used_at,
        "active": obj.is_active,
    }
