"""Celery tasks: take ids, call one service."""

from celery import shared_task

from . import services


@shared_task(name=services.SEND_REQUEST_EMAIL, acks_late=True)
def send_request_email_task(event: str, request_id: int) -> int:
    return services.send_request_email(event, request_id)
