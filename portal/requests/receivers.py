"""The portal listens to the orchestrator; the orchestrator never imports the portal."""

from django.db.models import TextField
from django.db.models.functions import Cast
from django.dispatch import receiver

from orchestrator.scheduler.storage_purge import upload_in_use
from orchestrator.state.models import Execution
from orchestrator.state.signals import execution_state_changed

from .models import TERMINAL_STATES, ResourceRequest
from .services import sync_request_with_execution


@receiver(execution_state_changed, sender=Execution, dispatch_uid="portal.requests.execution_state_changed")
def on_execution_state_changed(sender, execution, old, new, **kwargs) -> None:  # noqa: ANN001, ANN003
    sync_request_with_execution(execution, new)


@receiver(upload_in_use, dispatch_uid="portal.requests.upload_in_use")
def on_upload_in_use(sender, uri: str, **kwargs) -> bool:  # noqa: ANN001, ANN003
    """An open request keeps its uploaded files (they become the inputs of its execution)."""
    needle = uri.rstrip("/") + "/"
    return (
        ResourceRequest.objects.exclude(state__in=TERMINAL_STATES)
        .annotate(inputs_text=Cast("inputs", TextField()))
        .filter(inputs_text__contains=needle)
        .exists()
    )
