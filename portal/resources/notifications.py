"""Emails to a resource's owner, sent from Celery after commit: the expiry warning
(templates/email/resource_expiring*.txt) and "needs attention" (templates/email/resource_attention*.txt)."""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Resource
from .signals import owner_notified


def _send(resource_id: int, template: str, url_name: str) -> int:
    resource = Resource.objects.select_related("owner", "cost_center").filter(pk=resource_id).first()
    if resource is None:
        return 0
    owner_notified.send(sender=Resource, resource=resource, event=template)  # the bell, beside the email
    if not resource.owner.email:
        return 0
    base = settings.PORTICO_BASE_URL.rstrip("/")
    args = [resource.pk] if url_name == "resources:detail" else []
    context = {"resource": resource, "url": base + reverse(url_name, args=args)}
    subject = " ".join(render_to_string(f"email/{template}_subject.txt", context).split())
    body = render_to_string(f"email/{template}.txt", context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [resource.owner.email])


def send_expiry_warning(resource_id: int) -> int:
    return _send(resource_id, "resource_expiring", "resources:list")


def send_attention_notice(resource_id: int) -> int:
    return _send(resource_id, "resource_attention", "resources:detail")


# The Celery task that sends it (``tasks.py``), enqueued by name: tasks import this module, not back.
SEND_EXPIRY_WARNING = "portal.resources.send_expiry_warning"


def send_expiry_warning_on_commit(resource_id: int) -> None:
    transaction.on_commit(partial(current_app.send_task, SEND_EXPIRY_WARNING, args=(resource_id,)))


SEND_ATTENTION_NOTICE = "portal.resources.send_attention_notice"


def send_attention_notice_on_commit(resource_id: int) -> None:
    transaction.on_commit(partial(current_app.send_task, SEND_ATTENTION_NOTICE, args=(resource_id,)))
