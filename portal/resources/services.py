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
from django.db import transaction
from django.utils import timezone

from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.state.models import State
from portal.accounts.visibility import may_see
from portal.audit import services as audit
from portal.catalog.models import CatalogFlow
from portal.requests import links
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import RESOURCE_ACTION_LABEL, check_may_request, submit_request

from . import pricing
from .models import Resource, ResourceAction, ResourceState
from .notifications import send_attention_notice_on_commit, send_expiry_warning_on_commit

RESOURCE_LABEL = "portico.resource"
ACTION_LABEL = RESOURCE_ACTION_LABEL
# What identifies a resource to its day-2 flows: always read from the ``Resource`` row.
RESOURCE_FACTS = ("resource_id", "server_id", "state_key", "name")
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
    """Follow the executions of requests (``requests.links``, by foreign key); the catalog flow's labels
    say what the request makes or does, so a flow's ``Labels`` task cannot redirect it."""
    if execution.parent_id is not None:
        return None  # a subflow's run: its root execution's end is what counts
    request = links.request_of(execution)
    if request is None:
        return None  # a CLI or triggered run: nobody owns what it made
    if request.execution_id not in (None, execution.pk) and not links.descends_from(
        execution, request.execution_id
    ):
        return None
    labels = request.catalog_flow.labels or {}
    if RESOURCE_LABEL in labels and new_state in (State.SUCCESS, State.WARNING):
        return record_created(execution, request.pk, labels[RESOURCE_LABEL])
    if RESOURCE_LABEL in labels and new_state in (State.FAILED, State.KILLED, State.CANCELLED):
        return creation_failed(execution, request, new_state)
    if ACTION_LABEL in labels:
        return record_action(execution, request, labels[ACTION_LABEL], new_state)
    return None


def _actions(catalog_flow: CatalogFlow) -> dict[str, str]:
    """The day-2 flows the creating flow names (from the catalog's copy of its labels: a ``Labels`` task
    of the execution cannot add or redirect an action)."""
    return {
        key.removeprefix(ACTIONS_PREFIX): value
        for key, value in (catalog_flow.labels or {}).items()
        if key.startswith(ACTIONS_PREFIX) and key.removeprefix(ACTIONS_PREFIX) in ACTIONS
    }


def record_provisioning(
    execution: Any, *, provider_id: str, state_key: str, name: str, details: dict[str, Any]
) -> Resource | None:
    """A task of a request's creating flow made something at a provider: record it now, PROVISIONING.

    Called from ``provider_object_created`` (the task's own transaction, committed before it goes on),
    so a run killed or crashed one line later leaves its owner a resource to see and destroy. Idempotent:
    a retry that adopts the same server fills in nothing new.
    """
    request = links.request_of(execution)
    if request is None:
        return None  # a CLI or triggered run: nobody owns what it made (the drift sweep reports it)
    kind = (request.catalog_flow.labels or {}).get(RESOURCE_LABEL)
    if not kind:
        return None  # a day-2 flow works on a resource that is already recorded
    resource = Resource.objects.select_for_update().filter(request=request).first()
    if resource is not None:
        changed = [f for f, v in (("provider_id", provider_id), ("state_key", state_key)) if v]
        changed = [f for f in changed if not getattr(resource, f)]
        for field in changed:
            setattr(resource, field, provider_id if field == "provider_id" else state_key)
        if changed:
            resource.save(update_fields=[*changed, "updated"])
        return resource
    found = pricing.price(kind, request.inputs)
    resource = Resource.objects.create(
        request=request,
        kind=kind,
        provider_id=provider_id,
        state_key=state_key,
        name=name or str(request.inputs.get("name") or f"request-{request.pk}"),
        owner=request.requester,
        cost_center=request.cost_center,
        namespace=request.catalog_flow.namespace,
        details={k: v for k, v in details.items() if isinstance(v, str | int | float | bool)},
        actions=_actions(request.catalog_flow),
        monthly_cost=found.monthly if found else Decimal("0"),
        hourly_cost=found.hourly if found else Decimal("0"),
        state=ResourceState.PROVISIONING,
    )
    audit.record(
        "resource.provisioning_started",
        target=resource,
        cost_center=resource.cost_center,
        flow=request.catalog_flow,
        details={
            "request": request.pk,
            "execution": str(execution.pk),
            "kind": kind,
            "provider_id": provider_id,
            "state_key": state_key,
        },
    )
    return resource


def record_created(execution: Any, request_id: int, kind: str) -> Resource:
    """A creating flow succeeded: record what it made from its declared outputs.

    The row may already exist (PROVISIONING, or ATTENTION when an earlier run of the request failed and
    a restart finished it); what the provisioning step recorded is kept where the outputs are silent.
    """
    request = ResourceRequest.objects.select_related("catalog_flow", "cost_center", "requester").get(
        pk=request_id
    )
    outputs = execution.outputs or {}
    values = {**request.inputs, **outputs}
    found = pricing.price(kind, values)
    days = _int(outputs.get("lifetime_days"))
    now = timezone.now()
    known = Resource.objects.select_for_update().filter(request=request).first()
    before = known.state if known is not None else None
    resource, _ = Resource.objects.update_or_create(
        request=request,
        defaults={
            "kind": kind,
            "provider_id": str(outputs.get("server_id") or (known.provider_id if known else "")),
            "state_key": str(outputs.get("state_key") or (known.state_key if known else "")),
            "name": str(outputs.get("name") or request.inputs.get("name") or f"request-{request.pk}"),
            "ipv4": outputs.get("ipv4") or None,
            "ipv6": str(outputs.get("ipv6") or ""),
            "owner": request.requester,
            "cost_center": request.cost_center,
            "namespace": request.catalog_flow.namespace,
            "details": {
                k: v
                for k, v in outputs.items()
                if k not in ("server_id", "name", "ipv4", "ipv6", "state_key")
            },
            "actions": _actions(request.catalog_flow),
            "monthly_cost": found.monthly if found else Decimal("0"),
            "hourly_cost": found.hourly if found else Decimal("0"),
            "expires_at": now + timedelta(days=days) if days > 0 else None,
            "state": ResourceState.RUNNING,
            "attention": "",
        },
    )
    if before in (None, ResourceState.PROVISIONING, ResourceState.ATTENTION):
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


def _ended_why(execution: Any, new_state: str) -> str:
    """The last reason in the execution's state history ("killed by alice"), for people to read."""
    for entry in reversed(execution.history or []):
        if entry.get("reason") and entry.get("state") in (State.KILLING, new_state):
            return str(entry["reason"])
    return str(new_state).lower()


def creation_failed(execution: Any, request: ResourceRequest, new_state: str) -> Resource | None:
    """The creating run ended without success after making something: the resource needs attention.

    It is not shown running (the flow did not finish) nor forgotten (it exists at the provider and
    costs money): its owner is told, and its destroy stays one click away.
    """
    resource = (
        Resource.objects.select_for_update()
        .filter(request=request, state=ResourceState.PROVISIONING)
        .first()
    )
    if resource is None:
        return None
    why = _ended_why(execution, new_state)
    return mark_attention(
        resource,
        f"The run that created it ended {str(new_state).lower()} ({why}) after the server was made: it "
        "may still exist and cost money. Destroy it, or ask an admin to check it.",
        event="resource.needs_attention",
        details={"execution": str(execution.pk), "state": str(new_state), "reason": why},
    )


def mark_attention(resource: Resource, why: str, *, event: str, details: dict[str, Any]) -> Resource:
    """Move ``resource`` to ATTENTION with a reason, audit it and tell its owner (after commit)."""
    before = resource.state
    resource.state = ResourceState.ATTENTION
    resource.attention = why
    resource.save(update_fields=["state", "attention", "updated"])
    audit.record(
        event,
        target=resource,
        cost_center=resource.cost_center,
        details={**details, "from": str(before), "why": why},
    )
    send_attention_notice_on_commit(resource.pk)
    return resource


def record_action(execution: Any, request: ResourceRequest, action: str, new_state: str) -> Resource | None:
    """A day-2 flow moved: reflect it on the resource the request was made for (``ResourceAction``).

    A destroy that fails (nothing found, a server that does not match, an error) or is killed leaves the
    resource in ``ATTENTION``: neither shown running (it may be gone) nor destroyed (it may not be); the
    destroy can be asked for again.
    """
    link = ResourceAction.objects.filter(request=request).first()
    if link is None:
        return None
    resource = Resource.objects.select_for_update().filter(pk=link.resource_id).first()
    if resource is None:
        return None
    before = resource.state
    if new_state == State.RUNNING and action == "destroy" and resource.is_live:
        resource.state = ResourceState.DESTROYING
    elif new_state in (State.SUCCESS, State.WARNING):
        if action == "destroy":
            resource.state = ResourceState.DESTROYED
            resource.attention = ""
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
        resource.state = ResourceState.ATTENTION  # the destroy failed loudly; what is left is unknown
        resource.attention = (
            f"Its destroy ended {str(new_state).lower()} ({_ended_why(execution, new_state)}): whether it "
            "still exists is unknown. See the destroy's execution, then ask for the destroy again."
        )
    elif new_state not in (State.FAILED, State.KILLED, State.CANCELLED):
        return resource
    resource.save()
    if new_state != State.RUNNING:
        succeeded = new_state in (State.SUCCESS, State.WARNING)
        audit.record(
            f"resource.{action}_succeeded" if succeeded else f"resource.{action}_failed",
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


def action_refusal(resource: Resource, action: str) -> str | None:
    """Why ``action`` cannot be asked for on ``resource`` in its current state (None: it can)."""
    if not resource.is_live or resource.state == ResourceState.PROVISIONING:
        return f"{resource} is {resource.get_state_display().lower()}"
    if resource.state == ResourceState.ATTENTION and action != "destroy":
        return f"{resource} needs attention: only its destroy can be asked for"
    return None


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
    return (
        ResourceRequest.objects.filter(
            resource_action__resource=resource,
            resource_action__action=action,
            state__in=OPEN_REQUEST_STATES,
        )
        .order_by("-pk")
        .first()
    )


def resource_facts(resource: Resource, catalog_flow: CatalogFlow) -> dict[str, Any]:
    """The resource's identifiers the day-2 flow declares, read from the row (never from form data)."""
    known = {spec.id for spec in catalog_flow.parse().inputs}
    facts = {
        "resource_id": resource.pk,
        "server_id": resource.provider_id,
        "state_key": resource.state_key,
        "name": resource.name,
    }
    return {k: v for k, v in facts.items() if k in known}


def _user_inputs(data: dict[str, Any]) -> dict[str, Any]:
    """What the person may choose for a day-2 action (``days``): the resource's identifiers are refused."""
    if given := sorted(set(data) & set(RESOURCE_FACTS)):
        raise InputsInvalid({key: "is set by Portico from the resource, not from the form" for key in given})
    return dict(data)


def _submit_action(
    resource: Resource,
    action: str,
    catalog_flow: CatalogFlow,
    *,
    requester: Any,
    data: dict[str, Any],
    system_approval: str | None = None,
) -> ResourceRequest:
    """The day-2 request, with the resource's identifiers filled in and the request tied to it."""
    request = submit_request(
        requester=requester,
        catalog_flow=catalog_flow,
        data=_user_inputs(data),
        cost_center=resource.cost_center,
        system_approval=system_approval,
        server_inputs=resource_facts(resource, catalog_flow),
    )
    ResourceAction.objects.create(request=request, resource=resource, action=action)
    return request


def do_request_action(
    resource_id: int, action: str, *, acting_user: Any, data: dict[str, Any] | None = None
) -> ResourceRequest:
    """Ask for a day-2 action on the resource; the only way to request a day-2 flow.

    Raises ``Resource.DoesNotExist`` for a resource ``acting_user`` may not see (404, as for one that
    does not exist), PermissionDenied without the requester role, ActionNotAllowed or InputsInvalid.
    The request is charged to the resource's cost center: acting on a resource one may see needs no
    membership of it (an approver's extend, the owner's destroy).
    """
    check_may_request(acting_user)
    with transaction.atomic():
        resource = Resource.objects.select_for_update().select_related("cost_center").get(pk=resource_id)
        if not may_see(acting_user, resource.owner_id, resource.cost_center_id, resource.namespace):
            raise Resource.DoesNotExist(f"no such resource {resource_id}")
        check_may_request(acting_user, namespace=resource.namespace)
        if (refusal := action_refusal(resource, action)) is not None:
            raise ActionNotAllowed(refusal)
        catalog_flow = action_flow(resource, action)
        if (pending := open_action_request(resource, action)) is not None:
            raise ActionNotAllowed(f"request #{pending.pk} for '{action}' is still open")
        request = _submit_action(resource, action, catalog_flow, requester=acting_user, data=data or {})
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
            request = _submit_action(
                resource,
                "destroy",
                catalog_flow,
                requester=resource.owner,
                data={},
                system_approval=f"resource #{resource.pk} expired",
            )
            started.append(request.pk)
    return started
