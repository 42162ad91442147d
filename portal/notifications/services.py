"""Who hears about what, and the message they get. Mail and chat leave from Celery, after commit."""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from portal.accounts.roles import APPROVE_PERMISSION
from portal.requests.models import ResourceRequest

from .chat import chat_on_commit

EVENTS = ("requested", "decided", "finished")


def approver_emails(exclude_user_id: int | None = None) -> list[str]:
    app_label, codename = APPROVE_PERMISSION.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    condition = Q(is_superuser=True)
    if permission is not None:
        condition |= Q(groups__permissions=permission) | Q(user_permissions=permission)
    users = get_user_model().objects.filter(condition, is_active=True).exclude(email="")
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return sorted(set(users.values_list("email", flat=True)))


def recipients(event: str, request: ResourceRequest) -> list[str]:
    if event == "requested":
        return approver_emails(exclude_user_id=request.requester_id)
    return [request.requester.email] if request.requester.email else []


def render_email(event: str, request: ResourceRequest) -> tuple[str, str]:
    """Render ``templates/email/<event>_subject.txt`` and ``<event>.txt``; secrets never reach them."""
    decision = getattr(request, "decision", None)  # reverse one-to-one: absent → None
    context = {
        "request_obj": request,
        "flow": request.catalog_flow,
        "decision": decision,
        "url": settings.PORTICO_BASE_URL.rstrip("/") + reverse("requests:detail", args=[request.pk]),
        "approvals_url": settings.PORTICO_BASE_URL.rstrip("/") + reverse("approvals:queue"),
    }
    subject = " ".join(render_to_string(f"email/{event}_subject.txt", context).split())
    body = render_to_string(f"email/{event}.txt", context)
    return subject, body


def send_request_email(event: str, request_id: int) -> int:
    """Send one event's email; returns how many messages went out (0 when nobody is to be told)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    request = (
        ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center")
        .filter(pk=request_id)
        .first()
    )
    if request is None:  # rolled back or purged since: nothing to tell (and safe on redelivery)
        return 0
    to = recipients(event, request)
    if not to:
        return 0
    subject, body = render_email(event, request)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)


# The Celery task that sends it (``tasks.py``), enqueued by name: tasks import services, not back.
SEND_REQUEST_EMAIL = "portal.notifications.send_request_email"


def notify_on_commit(event: str, request_id: int) -> None:
    """Queue the email and the chat posts once the transaction commits (a rolled-back request sends
    nothing)."""
    transaction.on_commit(partial(current_app.send_task, SEND_REQUEST_EMAIL, args=(event, request_id)))
    chat_on_commit(event, request_id)
