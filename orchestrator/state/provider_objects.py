"""Something now exists at a provider: announced the moment its id is known, not when the flow ends.

A task that creates a server (or starts a Terraform apply into a state) tells its run context; the
announcement commits on its own, before the task goes on, so a kill, a crash or a failure later in the
flow cannot leave a provider object nobody knows about. Receivers (the portal's inventory) must be
idempotent: a retried attempt that adopts the same server announces it again.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from orchestrator.state.models import Execution, TaskRun
from orchestrator.state.signals import provider_object_created

_MAX_TEXT = 200


def announce(
    taskrun: TaskRun,
    *,
    provider_id: str = "",
    state_key: str = "",
    name: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Send ``provider_object_created`` for ``taskrun``'s execution and commit what receivers wrote."""
    if not provider_id and not state_key:
        raise ValueError("a provider object needs a provider id or a Terraform state key")
    with transaction.atomic():
        execution = Execution.objects.get(pk=taskrun.execution_id)
        provider_object_created.send(
            sender=Execution,
            execution=execution,
            taskrun=taskrun,
            provider_id=str(provider_id)[:_MAX_TEXT],
            state_key=str(state_key)[:_MAX_TEXT],
            name=str(name)[:_MAX_TEXT],
            details=dict(details or {}),
        )
