"""What a chat message says, in plain words: who, which request (its title), what happened, a link.

Read from the rows (display names, the catalog title), never from inputs: inputs may be long, odd or
secret, and a chat room is a wider audience than the request page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse

from portal.requests.models import RequestState, ResourceRequest
from portal.resources.models import Resource

from .models import ChatEvent

_MAX_TEXT = 200  # a title or comment longer than this is cut: a chat line, not a report


@dataclass(frozen=True)
class ChatMessage:
    title: str
    body: str
    kind: str  # Apprise's notify type: info, success, warning, failure
    namespace: str


def _cut(text: object) -> str:
    value = " ".join(str(text).split())
    return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 1] + "…"


def display_name(user: AbstractBaseUser) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return _cut(full or user.get_username())


def _link(name: str, pk: int) -> str:
    return settings.PORTICO_BASE_URL.rstrip("/") + reverse(name, args=[pk])


def for_request(event: str, request: ResourceRequest) -> ChatMessage:
    flow = request.catalog_flow
    title = _cut(flow.title)
    who = display_name(request.requester)
    link = _link("requests:detail", request.pk)
    namespace = flow.namespace
    if event == ChatEvent.REQUESTED:
        return ChatMessage(
            f"{who} requested {title}",
            f"{who} requested “{title}” (request #{request.pk}, cost center {request.cost_center.code}). "
            f"It waits for approval: {link}",
            "info",
            namespace,
        )
    if event == ChatEvent.DECIDED:
        decision = getattr(request, "decision", None)
        approved = decision is not None and decision.outcome == "APPROVED"
        verb = "approved" if approved else "rejected"
        by = f" by {display_name(decision.approver)}" if decision is not None and decision.approver else ""
        comment = (
            f" Comment: “{_cut(decision.comment)}”." if decision is not None and decision.comment else ""
        )
        return ChatMessage(
            f"{title} {verb}",
            f"{who}'s request #{request.pk} for “{title}” was {verb}{by}.{comment} {link}",
            "success" if approved else "warning",
            namespace,
        )
    if event == ChatEvent.FINISHED:
        state = request.get_state_display().lower()
        good = request.state == RequestState.SUCCEEDED
        return ChatMessage(
            f"{title} {state}",
            f"{who}'s request #{request.pk} for “{title}” has finished: {state}. "
            f"Task states and logs: {link}",
            "success" if good else "failure",
            namespace,
        )
    raise ValueError(f"{event!r} is not an event about a request")


def for_resource(event: str, resource: Resource) -> ChatMessage:
    if event != ChatEvent.RESOURCE_EXPIRING:
        raise ValueError(f"{event!r} is not an event about a resource")
    when = resource.expires_at.strftime("%Y-%m-%d %H:%M UTC") if resource.expires_at else "soon"
    name = _cut(resource.name)
    link = _link("resources:detail", resource.pk)
    return ChatMessage(
        f"{name} expires {when}",
        f"{display_name(resource.owner)}'s {resource.kind} “{name}” (cost center "
        f"{resource.cost_center.code}) expires on {when} and is then destroyed. Extend it here: {link}",
        "warning",
        resource.namespace,
    )
