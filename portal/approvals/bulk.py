"""Deciding several queued requests at once: each one goes through ``services.approve``/``reject`` on
its own (its own lock, transaction, audit event and email), so every rule — the role, self-approval,
the approver's cost centers, the budget's second approver, "still pending" — applies per request, and
one refusal never undoes or blocks the others."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied

from portal.lists.filters import parse_id
from portal.lists.paging import MAX_PAGE_SIZE
from portal.requests.models import RequestState

from . import services

MAX_BULK = MAX_PAGE_SIZE  # at most one full page of the queue per decision
NOT_YOURS = "not found, or not yours to decide"  # the same words whether it exists or not


@dataclass
class BulkOutcome:
    """What happened to each selected request, in the order they were selected."""

    decided: list[int] = field(default_factory=list)
    # Approved but not yet enough (quorum, or a second approver over budget): (request id, what it awaits)
    first_approval: list[tuple[int, str]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (request id, why, in plain words)


def selected_ids(raw: Iterable[str]) -> list[int]:
    """The request ids a bulk form sent: numbers only, each once, at most ``MAX_BULK`` of them."""
    ids: list[int] = []
    for text in raw:
        pk = parse_id(text)
        if pk is not None and pk >= 0 and pk not in ids:
            ids.append(pk)
    return ids[:MAX_BULK]


def _reason(exc: Exception, pk: int) -> str:
    """Why request ``pk`` was not decided, to follow "Request #pk was not approved: "."""
    if isinstance(exc, services.SelfApprovalError):
        return str(exc)
    if isinstance(exc, services.DecisionError):
        text, prefix = str(exc), f"request #{pk} "
        return f"it {text.removeprefix(prefix)}" if text.startswith(prefix) else text
    return NOT_YOURS


def decide_many(ids: Iterable[int], *, approve: bool, acting_user: Any, comment: str) -> BulkOutcome:
    """Approve (or reject) each of ``ids`` with the same ``comment``, one service call each."""
    service = services.approve if approve else services.reject
    outcome = BulkOutcome()
    for pk in ids:
        try:
            decided = service(pk, acting_user=acting_user, comment=comment)
        except (services.DecisionError, PermissionDenied, ObjectDoesNotExist) as exc:
            outcome.refused.append((pk, _reason(exc, pk)))
        else:
            if approve and decided.state == RequestState.PENDING_APPROVAL:
                outcome.first_approval.append((pk, services.progress(decided)))
            else:
                outcome.decided.append(pk)
    return outcome
