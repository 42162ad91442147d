"""The requester hears when their request has finished (``requests`` announces, never imports us)."""

from typing import Any

from django.dispatch import receiver

from portal.requests.models import ResourceRequest
from portal.requests.signals import request_finished

from .services import notify_on_commit


@receiver(request_finished, sender=ResourceRequest, dispatch_uid="portal.notifications.request_finished")
def on_request_finished(sender: Any, request: ResourceRequest, **kwargs: Any) -> None:
    notify_on_commit("finished", request.pk)
