"""What a requester does with their own requests: withdraw one still pending, edit and resubmit one that
did not work out.

The rules live here once, for the pages, the API and the tests: who may cancel (only the requester,
only while pending approval), which requests may be resubmitted (the requester's own rejected, failed or
cancelled ones, never a day-2 request: those are asked for again from the resource's page), and what
the new form is prefilled with (the old inputs but SECRET and FILE ones, and the cost center).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from portal.accounts.roles import is_requester
from portal.audit import services as audit

from . import services
from .forms import COST_CENTER_FIELD, initial_for
from .models import RequestState, ResourceRequest
from .signals import request_cancelled

RESUBMITTABLE_STATES = frozenset({RequestState.REJECTED, RequestState.FAILED, RequestState.CANCELLED})
# Never carried into a new form: a secret is typed again; an uploaded file is uploaded again (its stored
# copy is not the requester's to point at from a form).
NOT_PREFILLED_TYPES = frozenset({"SECRET", "FILE"})


class NotCancellable(Exception):
    """The request is past pending approval: cancelling it this way would undo nothing."""


class NotResubmittable(Exception):
    """The request cannot be resubmitted from the form (its state, or it acted on a resource)."""


class NotTheRequester(PermissionDenied):
    """Only the person who made a request cancels or resubmits it."""


def may_cancel(user: Any, request: ResourceRequest) -> bool:
    return (
        request.requester_id == getattr(user, "pk", None) and request.state == RequestState.PENDING_APPROVAL
    )


def is_resource_action(request: ResourceRequest) -> bool:
    """A day-2 request (it has a ``resources.ResourceAction``): its resource's page asks for it again.

    Read through the reverse relation, so ``requests`` does not import ``resources``."""
    return ResourceRequest.objects.filter(pk=request.pk, resource_action__isnull=False).exists()


def resubmit_refusal(request: ResourceRequest) -> str | None:
    """Why ``request`` cannot be resubmitted from the form, in plain words; None when it can."""
    if request.state not in RESUBMITTABLE_STATES:
        return (
            f"Request #{request.pk} is {request.get_state_display().lower()}: only a rejected, failed or "
            "cancelled request can be edited and resubmitted."
        )
    if is_resource_action(request):
        return (
            f"Request #{request.pk} acted on an existing resource. Ask for that action again from the "
            "resource's page."
        )
    if not request.catalog_flow.active:
        return f"“{request.catalog_flow.title}” is no longer in the catalog, so it cannot be requested again."
    return None


def may_resubmit(user: Any, request: ResourceRequest) -> bool:
    """The requester (still holding the requester role) of a request ``resubmit_refusal`` allows."""
    mine = request.requester_id == getattr(user, "pk", None)
    return mine and is_requester(user) and resubmit_refusal(request) is None


def check_may_resubmit(user: Any, request: ResourceRequest) -> None:
    """Raises ``NotTheRequester`` (403), ``RequestForbidden`` (no requester role, 403) or
    ``NotResubmittable`` (with the reason to show)."""
    if request.requester_id != getattr(user, "pk", None):
        raise NotTheRequester("only the person who made a request can resubmit it")
    services.check_may_request(user)
    reason = resubmit_refusal(request)
    if reason is not None:
        raise NotResubmittable(reason)


def _form_value(spec: Any, value: Any) -> Any:
    """A stored (resolved) value as the form's field shows it, converted the way defaults are (but text
    is shown as it was typed, even if it looks like an expression: it was a value, not a default)."""
    if isinstance(value, str) and spec.type != "DATETIME":
        return value
    if spec.type == "YAML":
        return yaml.safe_dump(value, sort_keys=False).strip()
    return initial_for(dataclasses.replace(spec, defaults=value))


def prefill(request: ResourceRequest, flow: Any) -> dict[str, Any]:
    """Initial form data for resubmitting ``request`` with the catalog's current ``flow``.

    Inputs the old request had are carried over (an empty one stays empty rather than showing the
    default); SECRET and FILE inputs never are; inputs the flow has gained since show their defaults.
    """
    initial: dict[str, Any] = {}
    for spec in flow.inputs:
        if spec.id in services.SERVER_FILLED_INPUTS or spec.type in NOT_PREFILLED_TYPES:
            continue
        if spec.id in request.inputs:
            value = request.inputs[spec.id]
            initial[spec.id] = None if value is None else _form_value(spec, value)
    initial[COST_CENTER_FIELD] = request.cost_center_id
    return initial


def not_prefilled(flow: Any) -> list[str]:
    """Display names of the inputs the requester must fill in again (secrets, files)."""
    return [spec.display_name or spec.id for spec in flow.inputs if spec.type in NOT_PREFILLED_TYPES]


def do_resubmit_request(
    original: ResourceRequest, *, requester: Any, data: dict[str, Any], cost_center: Any
) -> ResourceRequest:
    """A new request for ``original``'s catalog flow (its current revision) that records which one it
    resubmits; the same checks as any submission, after ``check_may_resubmit``."""
    check_may_resubmit(requester, original)
    return services.do_submit_request(
        requester=requester,
        catalog_flow=original.catalog_flow,
        data=data,
        cost_center=cost_center,
        resubmitted_from=original,
    )


def do_cancel_request(request_id: int, *, acting_user: Any) -> ResourceRequest:
    """Withdraw a request pending approval: CANCELLED, audited, its secrets dropped, the approvers told
    (on commit, by ``notifications``). Locked like a decision, so a cancel and an approval racing
    cannot both win: whichever comes second finds the request no longer pending.

    Raises ``NotTheRequester`` or ``NotCancellable``.
    """
    with transaction.atomic():
        request = (
            ResourceRequest.objects.select_for_update()
            .select_related("catalog_flow", "cost_center")
            .get(pk=request_id)
        )
        if request.requester_id != getattr(acting_user, "pk", None):
            raise NotTheRequester("only the person who made a request can cancel it")
        if request.state != RequestState.PENDING_APPROVAL:
            raise NotCancellable(
                f"Request #{request.pk} is {request.get_state_display().lower()}, no longer pending "
                "approval, so it cannot be cancelled."
            )
        request.state = RequestState.CANCELLED
        request.finished_at = timezone.now()
        request.secret_inputs = {}  # it will never run
        request.save(update_fields=["state", "finished_at", "secret_inputs", "updated"])
        audit.record(
            "request.cancelled",
            actor=acting_user,
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
        )
        request_cancelled.send(sender=ResourceRequest, request=request)
    return request
