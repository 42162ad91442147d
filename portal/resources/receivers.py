"""Resources follow executions: made by a creating flow, changed by day-2 flows."""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from orchestrator.state.models import Execution
from orchestrator.state.signals import execution_state_changed, provider_object_created
from portal.requests.models import ResourceRequest

from .availability import check_request
from .planning import create_estimate
from .services import on_execution_state, record_provisioning


@receiver(execution_state_changed, sender=Execution, dispatch_uid="portal.resources.execution_state_changed")
def on_execution_state_changed(sender, execution, old, new, **kwargs) -> None:  # noqa: ANN001, ANN003
    on_execution_state(execution, new)


@receiver(post_save, sender=ResourceRequest, dispatch_uid="portal.resources.request_created")
def on_request_created(sender, instance, created, **kwargs) -> None:  # noqa: ANN001, ANN003
    if created:
        create_estimate(instance)


@receiver(pre_save, sender=ResourceRequest, dispatch_uid="portal.resources.request_orderable")
def on_request_saving(sender, instance, raw, **kwargs) -> None:  # noqa: ANN001, ANN003
    if instance._state.adding and not raw:  # new requests only; fixtures (raw) are taken as they are
        check_request(instance)


@receiver(provider_object_created, sender=Execution, dispatch_uid="portal.resources.provider_object_created")
def on_provider_object_created(  # noqa: ANN201
    sender, execution, taskrun, provider_id, state_key, name, details, **kwargs  # noqa: ANN001, ANN003
):
    record_provisioning(execution, provider_id=provider_id, state_key=state_key, name=name, details=details)
