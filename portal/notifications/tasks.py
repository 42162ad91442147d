"""Celery tasks: take ids, call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from . import chat, services

log = logging.getLogger(__name__)

# A chat service that is down gets this many more tries, CHAT_RETRY_SECONDS apart, doubling each time.
CHAT_MAX_RETRIES = 5


@shared_task(name=services.SEND_REQUEST_EMAIL, acks_late=True)
def send_request_email_task(event: str, request_id: int) -> int:
    return services.send_request_email(event, request_id)


@shared_task(name=services.SEND_COMMENT_EMAIL, acks_late=True)
def send_comment_email_task(comment_id: int) -> int:
    return services.send_comment_email(comment_id)


@shared_task(name=chat.FAN_OUT_CHAT, acks_late=True)
def fan_out_chat_task(event: str, subject_id: int) -> list[int]:
    return chat.fan_out(event, subject_id)


@shared_task(name=chat.SEND_CHAT, bind=True, acks_late=True, max_retries=CHAT_MAX_RETRIES)
def send_chat_task(self, channel_id: int, event: str, subject_id: int) -> bool:  # noqa: ANN001 (Celery's task)
    try:
        return chat.send_to_channel(channel_id, event, subject_id)
    except chat.ChatDeliveryFailed as exc:
        attempt, last = self.request.retries + 1, CHAT_MAX_RETRIES + 1
        if self.request.retries >= CHAT_MAX_RETRIES:
            log.error("%s; gave up after %d attempts", exc, attempt)
            return False
        delay = float(getattr(settings, "PORTICO_CHAT_RETRY_SECONDS", 30.0)) * 2**self.request.retries
        log.warning("%s; attempt %d of %d, next in %.0f s", exc, attempt, last, delay)
        raise self.retry(countdown=delay) from None
