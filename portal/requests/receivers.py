"""The portal listens to the orchestrator; the orchestrator never imports the portal."""

from django.dispatch import receiver

from orchestrator.models import Execution
from orchestrator.signals import execution_state_changed

from .services import sync_request_with_execution


@receiver(execution_state_changed, sender=Execution, dispatch_uid="portal.requests.execution_state_changed")
def on_execution_state_changed(sender, execution, old, new, **kwargs) -> None:  # noqa: ANN001, ANN003
    sync_request_with_execution(execution, new)
