"""Events other apps announce (they never import us): a request has finished, was cancelled or commented
on, a resource is expiring, its owner was emailed."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.requests.models import RequestComment, ResourceRequest
from portal.requests.signals import request_cancelled, request_commented, request_finished
from portal.resources.models import Resource
from portal.resources.signals import owner_notified

from . import in_app
from .chat import chat_on_commit
from .models import ChatEvent
from .services import notify_comment_on_commit, notify_on_commit


@receiver(request_finished, sender=ResourceRequest, dispatch_uid="portal.notifications.request_finished")
def on_request_finished(sender: Any, request: ResourceRequest, **kwargs: Any) -> None:
    notify_on_commit("finished", request.pk)


@receiver(request_cancelled, sender=ResourceRequest, dispatch_uid="portal.notifications.request_cancelled")
def on_request_cancelled(sender: Any, request: ResourceRequest, **kwargs: Any) -> None:
    notify_on_commit("cancelled", request.pk)


@receiver(request_commented, sender=ResourceRequest, dispatch_uid="portal.notifications.request_commented")
def on_request_commented(sender: Any, comment: RequestComment, **kwargs: Any) -> None:
    notify_comment_on_commit(comment.pk)


@receiver(owner_notified, sender=Resource, dispatch_uid="portal.notifications.owner_notified")
def on_owner_notified(sender: Any, resource: Resource, event: str, **kwargs: Any) -> None:
    """``resources`` emails an owner (expiry, attention): the bell shows it too."""
    in_app.record_resource_event(event, resource)


@receiver(post_save, sender=Resource, dispatch_uid="portal.notifications.resource_warned")
def on_resource_saved(sender: Any, instance: Resource, update_fields: Any = None, **kwargs: Any) -> None:
    """The expiry sweep stamps ``warned_at`` (alone, with ``updated``) when it warns the owner; the
    channels hear it then, once per expiry date as the email."""
    if update_fields and "warned_at" in update_fields and instance.warned_at is not None:
        chat_on_commit(ChatEvent.RESOURCE_EXPIRING.value, instance.pk)
