"""Writing resources: record what an execution made, apply day-2 results, request day-2 actions, expire.

Every change is audited in the transaction that makes it. Day-2 actions are ordinary requests for the
flows the creating flow names in its ``portico.actions.<action>`` labels, so they take the same
request → approval → execution → audit path; an expired resource's destroy is requested by its owner's
resource but approved by the system (audited with actor "system").
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from orchestrator.state.models import State
from portal.accounts.visibility import may_see
from portal.audit import services as audit
from portal.catalog.models import CatalogFlow
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import REQUEST_LABEL, submit_request

from . import pricing
from .models import Resource, ResourceState
from .notifications import send_expiry_warning_on_commit

RESOURCE_LABEL = "portico.resource"
ACTION_LABEL = "portico.resource-action"
ACTIONS_PREFIX = "portico.actions."
ACTIONS = ("destroy", "extend", "poweroff", "poweron")
OPEN_REQUEST_STATES = (
    RequestState.PENDING_APPROVAL,
    RequestState.APPROVED,
    RequestState.RUNNING,
    RequestState.PAUSED,
)


class ActionNotAllowed(Exception):
    """The action is not offered for this resource, or not now."""


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


# -- from executions (called by the receiver, inside the engine's transaction) -------------------------


def on_execution_state(execution: Any, new_state: str) -> Resource | None:
    labels = execution.labels or {}
    request_id = labels.get(REQUEST_LABEL)
    if not request_id:
        return None  # a CLI or triggered run: nobody owns what it made
    if RESOURCE_LABEL in labels and new_state in (State.SUCCESS, State.WARNING):
        return record_created(execution, int(request_id), labels[RESOURCE_LABEL])
    if ACTION_LABEL in labels:
        return record_action(execution, labels[ACTION_LABEL], new_state)
    return None


def record_created(execution: Any, request_id: int, kind: str) -> Resource:
    """A creating flow succeeded: record what it made from its declared outputs."""
    request = ResourceRequest.objects.select_related("catalog_flow", "cost_center", "requester").get(
        pk=request_id
    )
    outputs = execution.outputs or {}
    labels = execution.labels or {}
    values = {**request.inputs, **outputs}
    found = pricing.price(kind, values)
    days = _int(outputs.get("lifetime_days"))
    now = timezone.now()
    resource, created = Resource.objects.update_or_create(
        request=request,
        defaults={
            "kind": kind,
            "provider_id": str(outputs.get("server_id") or ""),
            "name": str(outputs.get("name") or request.inputs.get("name") or f"request-{request.pk}"),
            "ipv4": outputs.get("ipv4") or None,
            "ipv6": str(outputs.get("ipv6") or ""),
            "owner": request.requester,
            "cost_center": request.cost_center,
            "namespace": request.catalog_flow.namespace,
            "details": {k: v for k, v in outputs.items() if k not in ("server_id", "name", "ipv4", "ipv6")},
            "actions": {
                key.removeprefix(ACTIONS_PREFIX): value
                for key, value in labels.items()
                if key.startswith(ACTIONS_PREFIX) and key.removeprefix(ACTIONS_PREFIX) in ACTIONS
            },
            "monthly_cost": found.monthly if found else Decimal("0"),
            "hourly_cost": found.hourly if found else Decimal("0"),
            "expires_at": now + timedelta(days=days) if days > 0 else None,
            "state": ResourceState.RUNNING,
        },
    )
    if created:
        audit.record(
            "resource.created",
            target=resource,
            cost_center=resource.cost_center,
            flow=request.catalog_flow,
            details={
                "request": request.pk,
                "execution": str(execution.pk),
                "kind": kind,
                "provider_id": resource.provider_id,
                "ipv4": resource.ipv4,
                "monthly_cost": str(resource.monthly_cost),
                "expires_at": resource.expires_at.isoformat() if resource.expires_at else None,
            },
        )
    return resource


def record_action(execution: Any, action: str, new_state: str) -> Resource | None:
    """A day-2 flow moved: reflect it on the resource its ``resource_id`` input names."""
    resource_id = _int(execution.inputs.get("resource_id"))
    resource = Resource.objects.select_for_update().filter(pk=resource_id).first()
    if resource is None:
        return None
    before = resource.state
    if new_state == State.RUNNING and action == "destroy" and resource.is_live:
        resource.state = ResourceState.DESTROYING
    elif new_state in (State.SUCCESS, State.WARNING):
        if action == "destroy":
            resource.state = ResourceState.DESTROYED
            resource.destroyed_at = timezone.now()
        elif action == "poweroff":
            resource.state = ResourceState.OFF
        elif action == "poweron":
            resource.state = ResourceState.RUNNING
        elif action == "extend":
            days = _int((execution.outputs or {}).get("days") or execution.inputs.get("days"))
            base = max(resource.expires_at or timezone.now(), timezone.now())
            resource.expires_at = base + timedelta(days=days)
            resource.warned_at = None  # a new expiry date earns a new warning
    elif new_state in (State.FAILED, State.KILLED, State.CANCELLED) and before == ResourceState.DESTROYING:
        resource.state = ResourceState.RUNNING  # still there: the destroy can be asked for again
    else:
        return resource
    resource.save()
    if new_state != State.RUNNING:
        succeeded = new_state in (State.SUCCESS, State.WARNING)
        audit.record(
            f"resource.{action}" if succeeded else f"resource.{action}_failed",
            target=resource,
            cost_center=resource.cost_center,
            flow=(execution.namespace, execution.flow_id),
            details={
                "execution": str(execution.pk),
                "state": str(new_state),
                "from": str(before),
                "to": str(resource.state),
                "expires_at": resource.expires_at.isoformat() if resource.expires_at else None,
            },
        )
    return resource


# -- day-2 requests ----------------------------------------------------------------------------------


def action_flow(resource: Resource, action: str) -> CatalogFlow:
    flow_id = (resource.actions or {}).get(action)
    if not flow_id:
        raise ActionNotAllowed(f"{resource} offers no '{action}' action")
    found = CatalogFlow.objects.filter(namespace=resource.namespace, flow_id=flow_id, active=True).first()
    if found is None:
        raise ActionNotAllowed(f"flow {resource.namespace}.{flow_id} for '{action}' is not in the catalog")
    return found


def open_action_request(resource: Resource, action: str) -> ResourceRequest | None:
    """A request for ``action`` on ``resource`` that has not finished yet (one at a time)."""
    flow_id = (resource.actions or {}).get(action)
    return (
        ResourceRequest.objects.filter(
            catalog_flow__namespace=resource.namespace,
            catalog_flow__flow_id=flow_id,
            inputs__resource_id=resource.pk,
            state__in=OPEN_REQUEST_STATES,
        )
        .order_by("-pk")
        .first()
    )


def _action_inputs(resource: Resource, catalog_flow: CatalogFlow, data: dict[str, Any]) -> dict[str, Any]:
    """What the day-2 flow declares, filled from the resource (the user supplies only the rest)."""
    known = {spec.id for spec in catalog_flow.parse().inputs}
    facts = {"resource_id": resource.pk, "server_id": resource.provider_id, "name": resource.name}
    return {k: v for k, v in {**facts, **data}.items() if k in known}


def do_request_action(
    resource_id: int, action: str, *, acting_user: Any, data: dict[str, Any] | None = None
) -> ResourceRequest:
    """Ask for a day-2 action; raises PermissionDenied, ActionNotAllowed or InputsInvalid."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().select_related("cost_center").get(pk=resource_id)
        if not may_see(acting_user, resource.owner_id):  # who may see a resource may act on it
            raise PermissionDenied("only the owner or an approver may act on this resource")
        if not resource.is_live:
            raise ActionNotAllowed(f"{resource} is {resource.get_state_display().lower()}")
        catalog_flow = action_flow(resource, action)
        if (pending := open_action_request(resource, action)) is not None:
            raise ActionNotAllowed(f"request #{pending.pk} for '{action}' is still open")
        request = submit_request(
            requester=acting_user,
            catalog_flow=catalog_flow,
            data=_action_inputs(resource, catalog_flow, data or {}),
            cost_center=resource.cost_center,
        )
        audit.record(
            "resource.action_requested",
            actor=acting_user,
            target=resource,
            cost_center=resource.cost_center,
            flow=catalog_flow,
            details={"action": action, "request": request.pk},
        )
    return request


# -- expiry (celery beat) ----------------------------------------------------------------------------


def warning_window() -> timedelta:
    return timedelta(hours=float(getattr(settings, "PORTICO_RESOURCE_WARNING_HOURS", 24)))


def warn_expiring(now: Any = None) -> list[int]:
    """Tell owners once, ``warning_window`` before expiry; returns the resources warned."""
    now = now or timezone.now()
    due = Resource.objects.filter(
        state__in=(ResourceState.RUNNING, ResourceState.OFF),
        expires_at__gt=now,
        expires_at__lte=now + warning_window(),
        warned_at__isnull=True,
    ).values_list("pk", flat=True)
    warned = []
    for pk in list(due):
        with transaction.atomic():
            resource = Resource.objects.select_for_update().get(pk=pk)
            if resource.warned_at is not None:
                continue  # another beat run got here first
            resource.warned_at = now
            resource.save(update_fields=["warned_at", "updated"])
            audit.record(
                "resource.expiry_warned",
                target=resource,
                cost_center=resource.cost_center,
                details={
                    "expires_at": resource.expires_at.isoformat(),
                    "owner": resource.owner.get_username(),
                },
            )
            send_expiry_warning_on_commit(resource.pk)
            warned.append(pk)
    return warned


def destroy_expired(now: Any = None) -> list[int]:
    """Request and system-approve the destroy of every expired live resource; returns the requests."""
    now = now or timezone.now()
    due = Resource.objects.filter(
        state__in=(ResourceState.RUNNING, ResourceState.OFF), expires_at__lte=now
    ).values_list("pk", flat=True)
    started = []
    for pk in list(due):
        with transaction.atomic():
            resource = Resource.objects.select_for_update().select_related("owner", "cost_center").get(pk=pk)
            if not resource.is_live or resource.state == ResourceState.DESTROYING:
                continue
            if open_action_request(resource, "destroy") is not None:
                continue  # already on its way
            try:
                catalog_flow = action_flow(resource, "destroy")
            except ActionNotAllowed as exc:
                audit.record("resource.expiry_skipped", target=resource, details={"reason": str(exc)})
                continue
            audit.record(
                "resource.expired",
                target=resource,
                cost_center=resource.cost_center,
                flow=catalog_flow,
                details={"expires_at": resource.expires_at.isoformat() if resource.expires_at else None},
            )
            request = submit_request(
                requester=resource.owner,
                catalog_flow=catalog_flow,
                data=_action_inputs(resource, catalog_flow, {}),
                cost_center=resource.cost_center,
                system_approval=f"resource #{resource.pk} expired",
            )
            started.append(request.pk)
    return started
