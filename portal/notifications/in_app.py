"""In-app notifications (the bell): the events that are emailed, recorded for the same people, beside
the email, in the task that sends it, so the bell and the mailbox never disagree on who was told.

Texts are plain words read from the rows (display names, the catalog title), cut to fit; a page shows
them escaped. Links are paths built with ``reverse``. Each person keeps their newest ``KEEP_PER_USER``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from portal.requests.models import RequestComment, ResourceRequest
from portal.resources.models import Resource

from .chat_messages import display_name
from .models import Notification

KEEP_PER_USER = 500
MAX_TEXT = 300
_QUOTE = 120  # how much of a comment the notice quotes


def _cut(text: str, limit: int) -> str:
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def record(users: Iterable[Any], verb: str, text: str, url: str) -> list[Notification]:
    """One unread notification per user (each at most once), then drop each one's oldest past the cap."""
    recipients = {user.pk: user for user in users if user is not None}
    rows = Notification.objects.bulk_create(
        Notification(recipient_id=pk, verb=verb, text=_cut(text, MAX_TEXT), url=url) for pk in recipients
    )
    for pk in recipients:
        stale = Notification.objects.filter(recipient_id=pk).values_list("pk", flat=True)[KEEP_PER_USER:]
        Notification.objects.filter(pk__in=list(stale)).delete()
    return rows


def request_text(event: str, request: ResourceRequest) -> str:
    title = f"“{_cut(request.catalog_flow.title, 80)}”"
    who = display_name(request.requester)
    if event == "requested":
        return f"{who} asked for {title} (request #{request.pk}). It is waiting for your approval."
    if event == "decided":
        decision = getattr(request, "decision", None)
        outcome = decision.get_outcome_display().lower() if decision is not None else "decided"
        by = f" by {display_name(decision.approver)}" if decision is not None and decision.approver else ""
        return f"Your request #{request.pk} for {title} was {outcome}{by}."
    if event == "finished":
        return f"Your request #{request.pk} for {title} has finished: {request.get_state_display().lower()}."
    if event == "cancelled":
        return f"{who} cancelled request #{request.pk} for {title}. There is nothing left to decide."
    raise ValueError(f"unknown request event {event!r}")


def record_request_event(event: str, request: ResourceRequest, users: Iterable[Any]) -> list[Notification]:
    return record(users, event, request_text(event, request), reverse("requests:detail", args=[request.pk]))


def record_comment(comment: RequestComment, users: Iterable[Any]) -> list[Notification]:
    request = comment.request
    text = (
        f"{display_name(comment.author)} commented on request #{request.pk} "
        f"(“{_cut(request.catalog_flow.title, 60)}”): “{_cut(comment.text, _QUOTE)}”"
    )
    url = reverse("requests:detail", args=[request.pk]) + f"#comment-{comment.pk}"
    return record(users, "commented", text, url)


def resource_text(event: str, resource: Resource) -> str:
    name = f"“{_cut(resource.name, 80)}”"
    if event == "resource_expiring":
        when = resource.expires_at.strftime("%Y-%m-%d %H:%M UTC") if resource.expires_at else "soon"
        return (
            f"Your {resource.kind} {name} expires on {when} and will then be destroyed. Extend it to keep it."
        )
    if event == "resource_attention":
        why = f": {_cut(resource.attention, 160)}" if resource.attention else "."
        return f"Your {resource.kind} {name} needs your attention{why}"
    raise ValueError(f"unknown resource event {event!r}")


def record_resource_event(event: str, resource: Resource) -> list[Notification]:
    url = reverse("resources:detail", args=[resource.pk])
    return record([resource.owner], event, resource_text(event, resource), url)


# Reading and marking, for the bell and the notifications page: always one's own.


def mine(user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=getattr(user, "pk", None))


def unread_count(user: Any) -> int:
    if not (user and user.is_authenticated):
        return 0
    return mine(user).filter(read_at__isnull=True).count()


def get_mine_or_404(user: Any, pk: int) -> Notification:
    """Someone else's notification is answered like one that does not exist."""
    found = mine(user).filter(pk=pk).first()
    if found is None:
        raise Http404("no such notification")
    return found


def mark_read(user: Any, pk: int) -> Notification:
    notification = get_mine_or_404(user, pk)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(user: Any) -> int:
    return mine(user).filter(read_at__isnull=True).update(read_at=timezone.now())
