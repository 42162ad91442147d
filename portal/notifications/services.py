"""Who hears about what, and the message they get. Mail and chat leave from Celery, after commit."""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from portal.accounts.models import NamespaceRole
from portal.accounts.roles import APPROVE_PERMISSION, may_decide_on
from portal.accounts.visibility import oversees
from portal.requests import comments
from portal.requests.models import RequestComment, RequestState, ResourceRequest
from portal.requests.selectors import display_inputs

from . import in_app
from .chat import REQUEST_EVENTS, chat_on_commit

# Events about a request, each with templates/email/<event>_subject.txt and <event>.txt. A comment
# (``commented``) has its own sender: it is about one comment, told to the thread's other participants.
EVENTS = ("requested", "decided", "finished", "cancelled")


def approvers_of(request: ResourceRequest) -> list[Any]:
    """Active users who may decide ``request`` — approvers on every namespace or granted approver (or
    namespace admin) on its flow's namespace, within their cost-center scope — but never its requester:
    those who may open the request page the notice links to and decide there."""
    app_label, codename = APPROVE_PERMISSION.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    condition = Q(is_superuser=True)
    if permission is not None:
        condition |= Q(groups__permissions=permission) | Q(user_permissions=permission)
    deciding = (NamespaceRole.APPROVER, NamespaceRole.ADMIN)
    condition |= Q(namespace_grants__role__in=deciding) | Q(groups__namespace_grants__role__in=deciding)
    users = get_user_model().objects.filter(condition, is_active=True).exclude(pk=request.requester_id)
    namespace = request.catalog_flow.namespace
    return [
        user
        for user in users.distinct().order_by("pk")
        if oversees(user, request.cost_center_id, namespace)
        and may_decide_on(user, request.cost_center_id, namespace)
    ]


def recipient_users(event: str, request: ResourceRequest) -> list[Any]:
    """Who hears about ``event``: approvers of a request submitted or cancelled, else its requester."""
    if event in ("requested", "cancelled"):
        return approvers_of(request)
    return [request.requester]


def _emails(users: list[Any]) -> list[str]:
    return sorted({user.email for user in users if user.email})


def recipients(event: str, request: ResourceRequest) -> list[str]:
    return _emails(recipient_users(event, request))


def render_email(event: str, request: ResourceRequest) -> tuple[str, str]:
    """Render ``templates/email/<event>_subject.txt`` and ``<event>.txt``; secrets never reach them."""
    decision = getattr(request, "decision", None)  # reverse one-to-one: absent → None
    context = {
        "request_obj": request,
        "flow": request.catalog_flow,
        "decision": decision,
        "inputs": display_inputs(request) if event == "requested" else {},  # by display name, masked
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
    users = recipient_users(event, request)
    in_app.record_request_event(event, request, users)  # the bell, beside the email
    to = _emails(users)
    if not to:
        return 0
    subject, body = render_email(event, request)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)


def comment_recipients(comment: RequestComment) -> list[Any]:
    """The thread's other participants (``requests.comments.participants``). A requester's comment on a
    request no approver has touched yet goes to the approvers asked to decide it, so it reaches someone."""
    request = comment.request
    others = [user for user in comments.participants(request) if user.pk != comment.author_id]
    if (
        comment.author_id == request.requester_id
        and request.state == RequestState.PENDING_APPROVAL
        and not others
    ):
        others += approvers_of(request)
    return list({user.pk: user for user in others}.values())


def send_comment_email(comment_id: int) -> int:
    """Tell the other participants about a comment (email and bell); how many emails went out."""
    comment = (
        RequestComment.objects.select_related(
            "author", "request__requester", "request__catalog_flow", "request__cost_center"
        )
        .filter(pk=comment_id)
        .first()
    )
    if comment is None:
        return 0
    users = comment_recipients(comment)
    in_app.record_comment(comment, users)
    to = _emails(users)
    if not to:
        return 0
    request = comment.request
    context = {
        "comment": comment,
        "request_obj": request,
        "flow": request.catalog_flow,
        "url": settings.PORTICO_BASE_URL.rstrip("/") + reverse("requests:detail", args=[request.pk]),
    }
    subject = " ".join(render_to_string("email/commented_subject.txt", context).split())
    body = render_to_string("email/commented.txt", context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)


# The Celery task that sends it (``tasks.py``), enqueued by name: tasks import services, not back.
SEND_REQUEST_EMAIL = "portal.notifications.send_request_email"


def notify_on_commit(event: str, request_id: int) -> None:
    """Queue the email and the chat posts once the transaction commits (a rolled-back request sends
    nothing)."""
    transaction.on_commit(partial(current_app.send_task, SEND_REQUEST_EMAIL, args=(event, request_id)))
    if event in REQUEST_EVENTS:  # the events chat channels can subscribe to
        chat_on_commit(event, request_id)


SEND_COMMENT_EMAIL = "portal.notifications.send_comment_email"


def notify_comment_on_commit(comment_id: int) -> None:
    """Queue the comment's email (and bell) once the comment is committed."""
    transaction.on_commit(partial(current_app.send_task, SEND_COMMENT_EMAIL, args=(comment_id,)))
