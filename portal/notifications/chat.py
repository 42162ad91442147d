"""Posting events to chat channels through Apprise, one Celery task per channel so one that fails is
retried alone and the others are not told twice.

The URL is the credential: it is decrypted only here, registered for log masking as it is read, and
Apprise's own log lines (which may quote it, or parts of it) are captured per send, masked, and only
then put in our log. Apprise's logger does not reach the root logger (``apps.py``).
"""

from __future__ import annotations

import logging
import re
from functools import partial
from urllib.parse import unquote

import apprise
from celery import current_app
from django.db import transaction

from orchestrator.flowmodel import masking
from portal.requests.models import ResourceRequest
from portal.resources.models import Resource

from . import chat_messages
from .chat_messages import ChatMessage
from .models import ChatChannel, ChatEvent

log = logging.getLogger(__name__)

REQUEST_EVENTS = (ChatEvent.REQUESTED, ChatEvent.DECIDED, ChatEvent.FINISHED)
RESOURCE_EVENTS = (ChatEvent.RESOURCE_EXPIRING,)
MAX_URL_LENGTH = 2000

# The Celery tasks (``tasks.py``), sent by name: tasks import this module, not back.
FAN_OUT_CHAT = "portal.notifications.fan_out_chat"
SEND_CHAT = "portal.notifications.send_chat"


class ChatDeliveryFailed(Exception):
    """A channel did not take the message; the text names the channel, never its URL."""


def invalid_url_reason(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (None when it can), without quoting it back."""
    if not url or len(url) > MAX_URL_LENGTH:
        return f"give an Apprise URL of at most {MAX_URL_LENGTH} characters"
    with apprise.LogCapture(level=logging.WARNING):
        usable = apprise.Apprise().add(url)
    return None if usable else "Apprise does not know this URL (check its scheme and parts)"


def url_secrets(url: str) -> list[str]:
    """Every piece of ``url`` that may be a token: the whole URL, and each part between its separators
    (user info, host, path segments, query and fragment values), as written and unquoted. Used only to
    mask Apprise's lines, where masking a harmless word costs nothing."""
    rest = url.split("://", 1)[-1]
    pieces = [url, rest, *re.split(r"[/?&=#:@,]+", rest)]
    pieces += [unquote(p) for p in pieces]
    return [p for p in pieces if len(p) >= masking.MIN_SECRET_LENGTH]


def message_for(event: str, subject_id: int) -> ChatMessage | None:
    """The message for ``event`` about request or resource ``subject_id``; None when it is gone."""
    if event in REQUEST_EVENTS:
        request = (
            ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center")
            .filter(pk=subject_id)
            .first()
        )
        return chat_messages.for_request(event, request) if request is not None else None
    if event in RESOURCE_EVENTS:
        resource = Resource.objects.select_related("owner", "cost_center").filter(pk=subject_id).first()
        return chat_messages.for_resource(event, resource) if resource is not None else None
    raise ValueError(f"unknown chat event {event!r}")


def channels_for(event: str, namespace: str) -> list[ChatChannel]:
    return [
        c
        for c in ChatChannel.objects.filter(active=True)
        if event in (c.events or []) and c.covers(namespace)
    ]


def fan_out(event: str, subject_id: int) -> list[int]:
    """Queue one send per channel that wants ``event`` for the subject's namespace; their ids."""
    message = message_for(event, subject_id)
    if message is None:  # rolled back or purged since: nothing to tell (and safe on redelivery)
        return []
    ids = [channel.pk for channel in channels_for(event, message.namespace)]
    for channel_id in ids:
        current_app.send_task(SEND_CHAT, args=(channel_id, event, subject_id))
    return ids


def send_to_channel(channel_id: int, event: str, subject_id: int) -> bool:
    """Post one message to one channel; False when there is nothing to send (channel off, subject gone).

    Raises ``ChatDeliveryFailed`` (with Apprise's reason, masked) when the service refuses it.
    """
    channel = ChatChannel.objects.filter(pk=channel_id, active=True).first()
    if channel is None or event not in (channel.events or []):
        return False  # switched off or narrowed since it was queued
    message = message_for(event, subject_id)
    if message is None:
        return False
    url = channel.url()
    notifier = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING) as captured:
        added = bool(url) and notifier.add(url)
        sent = added and notifier.notify(title=message.title, body=message.body, notify_type=message.kind)
    if sent:
        return True
    said = [line for line in captured.getvalue().splitlines() if line.strip()]
    reason = masking.mask(said[-1], url_secrets(url)) if said else "no reason given"
    if not added:
        reason = "its URL is not usable by Apprise"
    raise ChatDeliveryFailed(f"chat channel {channel.name!r} (#{channel.pk}) refused {event!r}: {reason}")


def chat_on_commit(event: str, subject_id: int) -> None:
    """Queue the chat fan-out once the transaction commits (a rolled-back change posts nothing)."""
    transaction.on_commit(partial(current_app.send_task, FAN_OUT_CHAT, args=(event, subject_id)))
