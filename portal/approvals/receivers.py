"""Approvals applies its policy to every submitted request (``requests`` announces, never imports us),
and checks the approval labels of every synced flow (the catalog asks its registered checks)."""

from typing import Any

from django.dispatch import receiver

from orchestrator.flowmodel.spec import Flow
from portal.catalog.services import register_label_check
from portal.requests.models import ResourceRequest
from portal.requests.signals import request_submitted

from . import policies
from .services import do_route_submitted


@receiver(request_submitted, sender=ResourceRequest, dispatch_uid="portal.approvals.request_submitted")
def on_request_submitted(
    sender: Any, request: ResourceRequest, flow: Flow, system_approval: str | None, **kwargs: Any
) -> None:
    do_route_submitted(request, flow, system_approval=system_approval)


# The catalog refuses a flow whose ``portico.approval.*`` labels are unknown or malformed, at sync.
register_label_check(policies.label_errors)
