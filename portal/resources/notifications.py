"""The expiry warning email (templates/email/resource_expiring*.txt), sent from Celery after commit."""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Resource


def send_expiry_warning(resource_id: int) -> int:
    resource = Resource.objects.select_related("owner", "cost_center").filter(pk=resource_id).first()
    if resource is None or not resource.owner.email:
        return 0
    base = settings.PORTICO_BASE_URL.rstrip("/")
    context = {
        "resource": resource,
        "url": base + reverse("resources:list"),
    }
    subject = " ".join(render_to_string("email/resource_expiring_subject.txt", context).split())
    body = render_to_string("email/resource_expiring.txt", context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [resource.owner.email])


# The Celery task that sends it (``tasks.py``), enqueued by name: tasks import this module, not back.
SEND_EXPIRY_WARNING = "portal.resources.send_expiry_warning"


def send_expiry_warning_on_commit(resource_id: int) -> None:
    transaction.on_commit(partial(current_app.send_task, SEND_EXPIRY_WARNING, args=(resource_id,)))
