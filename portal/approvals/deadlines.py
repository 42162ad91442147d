"""What happens to an undecided request as time passes (celery beat runs ``sweep``): past its policy's
``remind_at`` the approvers who have not voted are reminded once; past ``escalate_at`` the fallback
group may decide too and is told; past ``deadline`` the request expires.

An expired request is REJECTED, its ``Decision`` says ``EXPIRED`` (no approver), its secrets are
dropped, and the requester is told as for any decision (email and the bell: the ``decided`` notice
reads "was expired"). Each step locks the request and re-checks it is still pending, so a sweep that
races an approver, or a second beat, never decides twice or reminds twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.audit import services as audit
from portal.notifications import in_app
from portal.notifications.services import approvers_of, notify_on_commit
from portal.requests.models import RequestState, ResourceRequest

from . import email_links, policies
from .models import Decision, Outcome, RequestPolicy

MAX_PER_SWEEP = 200  # a backlog is worked through over several beats, never in one long transaction


@dataclass
class SweepReport:
    expired: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


def _due(column: str, now: datetime, *, done: str | None = None) -> list[int]:
    rows = RequestPolicy.objects.filter(
        **{f"{column}__lte": now}, request__state=RequestState.PENDING_APPROVAL
    )
    if done:
        rows = rows.filter(**{f"{done}__isnull": True})
    return list(rows.order_by(column).values_list("request_id", flat=True)[:MAX_PER_SWEEP])


def _locked(request_id: int) -> ResourceRequest | None:
    """The request, locked, if it is still pending (else None: someone decided it meanwhile)."""
    request = (
        ResourceRequest.objects.select_for_update()
        .select_related("requester", "catalog_flow", "cost_center")
        .filter(pk=request_id)
        .first()
    )
    return request if request is not None and request.state == RequestState.PENDING_APPROVAL else None


def expire(request_id: int, now: datetime) -> bool:
    """Expire one overdue request; False when it was decided (or withdrawn) first."""
    with transaction.atomic():
        request = _locked(request_id)
        policy = RequestPolicy.objects.filter(request_id=request_id).first()
        if request is None or policy is None or policy.deadline is None or policy.deadline > now:
            return False
        waited = policy.deadline - request.created
        comment = f"expired: no decision within {_plain(waited)}"
        Decision.objects.create(request=request, approver=None, outcome=Outcome.EXPIRED, comment=comment)
        request.state = RequestState.REJECTED
        request.decided_at = now
        request.secret_inputs = {}
        request.save(update_fields=["state", "decided_at", "secret_inputs", "updated"])
        audit.record(
            "request.expired",
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details={"reason": comment, "deadline": policy.deadline.isoformat(), "policy": policy.source},
        )
        notify_on_commit("decided", request.pk)
    return True


def _plain(delta: Any) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, int(delta.total_seconds() // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _tell(event: str, request: ResourceRequest, users: list[Any]) -> None:
    """One email per person (their links are theirs alone) and a bell notice, after commit."""
    if not users:
        return
    path = reverse("requests:detail", args=[request.pk])
    title = request.catalog_flow.title
    if event == "approval_reminder":
        text = f"Reminder: request #{request.pk} for “{title}” is still waiting for your decision."
    else:
        text = f"Request #{request.pk} for “{title}” was escalated to you: it is waiting for a decision."
    in_app.record(users, event, text, path)
    links_on_commit(event, request.pk, [user.pk for user in users])


# The Celery task that sends them (``tasks.py``), enqueued by name once the transaction commits.
SEND_LINK_EMAILS = "portal.approvals.send_link_emails"
LINK_EVENTS = ("approval_links", "approval_reminder", "approval_escalated")


def links_on_commit(event: str, request_id: int, user_ids: list[int]) -> None:
    if user_ids:
        transaction.on_commit(
            partial(current_app.send_task, SEND_LINK_EMAILS, args=(event, request_id, user_ids))
        )


def send_link_emails(event: str, request_id: int, user_ids: list[int]) -> int:
    """Email each of ``user_ids`` about ``request_id`` with their own approve and reject links."""
    if event not in LINK_EVENTS:
        raise ValueError(f"unknown approval email {event!r}")
    request = (
        ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center")
        .filter(pk=request_id, state=RequestState.PENDING_APPROVAL)
        .first()
    )
    if request is None:  # decided, withdrawn or rolled back since: no links to a closed request
        return 0
    base = settings.PORTICO_BASE_URL.rstrip("/")
    sent = 0
    for user in type(request.requester).objects.filter(pk__in=user_ids, is_active=True).order_by("pk"):
        if not user.email:
            continue
        context = {
            "request_obj": request,
            "flow": request.catalog_flow,
            "user": user,
            "url": base + reverse("requests:detail", args=[request.pk]),
            "approve_url": email_links.url(request.pk, user.pk, "approve"),
            "reject_url": email_links.url(request.pk, user.pk, "reject"),
            "valid_hours": email_links.valid_hours(),
        }
        subject = " ".join(render_to_string(f"email/{event}_subject.txt", context).split())
        body = render_to_string(f"email/{event}.txt", context)
        sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return sent


def remind(request_id: int, now: datetime) -> bool:
    with transaction.atomic():
        request = _locked(request_id)
        policy = RequestPolicy.objects.select_for_update().filter(request_id=request_id).first()
        if request is None or policy is None or policy.reminded_at is not None:
            return False
        policy.reminded_at = now
        policy.save(update_fields=["reminded_at"])
        _tell("approval_reminder", request, policies.eligible_users(request, policy, approvers_of(request)))
    return True


def escalate(request_id: int, now: datetime) -> bool:
    with transaction.atomic():
        request = _locked(request_id)
        policy = RequestPolicy.objects.select_for_update().filter(request_id=request_id).first()
        if request is None or policy is None or policy.escalated_at is not None or not policy.escalate_to_id:
            return False
        policy.escalated_at = now
        policy.save(update_fields=["escalated_at"])
        audit.record(
            "request.escalated",
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details={"group": policy.escalate_to.name, "policy": policy.source},
        )
        members = policies.group_members(policy.escalate_to)
        _tell("approval_escalated", request, policies.eligible_users(request, policy, members))
    return True


def sweep(now: datetime | None = None) -> SweepReport:
    """The beat task's body: expire, then escalate, then remind whatever is due at ``now``."""
    now = now or timezone.now()
    report = SweepReport()
    report.expired = [pk for pk in _due("deadline", now) if expire(pk, now)]
    report.escalated = [pk for pk in _due("escalate_at", now, done="escalated_at") if escalate(pk, now)]
    report.reminded = [pk for pk in _due("remind_at", now, done="reminded_at") if remind(pk, now)]
    return report
