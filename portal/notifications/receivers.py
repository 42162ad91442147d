"""Events other apps announce (they never import us): a request has finished, a resource is expiring."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.requests.models import ResourceRequest
from portal.requests.signals import request_finished
from portal.resources.models import Resource

from .chat import chat_on_commit
from .models import ChatEvent
from .services import notify_on_commit


@receiver(request_finished, sender=ResourceRequest, dispatch_uid="portal.notifications.request_finished")
def on_request_finished(sender: Any, request: ResourceRequest, **kwargs: Any) -> None:
    notify_on_commit("finished", request.pk)


@receiver(post_save, sender=Resource, dispatch_uid="portal.notifications.resource_warned")
def on_resource_saved(sender: Any, instance: Resource, update_fields: Any = None, **kwargs: Any) -> None:
    """The expiry sweep stamps ``warned_at`` (alone, with ``updated``) when it warns the owner; the
    channels hear it then, once per expiry date as the email."""
    if update_fields and "warned_at" in update_fields and instance.warned_at is not None:
        chat_on_commit(ChatEvent.RESOURCE_EXPIRING.value, instance.pk)
