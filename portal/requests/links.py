"""Execution ↔ request, by foreign key (``RequestExecution``), never by label.

An execution belongs to a request when the request's approval started it (``new_execution_id`` links
it before it starts; ``ResourceRequest.execution``, the one it follows now, counts too), or when it
descends from one that does: a subflow through ``parent``, a replay or a new-execution retry through
``original``. Labels are left to flows: a ``Labels`` task rewriting
``portico.request`` changes nothing here.
"""

from __future__ import annotations

import uuid
from typing import Any

from orchestrator.state.models import Execution

from .models import RequestExecution, ResourceRequest

_MAX_HOPS = 20


def new_execution_id(request: ResourceRequest) -> uuid.UUID:
    """Choose the id of the execution about to start for ``request`` and link it first, so the engine's
    very first state signals (inside ``start_execution``) already find the request. The foreign key is
    checked at commit (deferred), when the execution row exists."""
    execution_id = uuid.uuid4()
    RequestExecution.objects.create(request=request, execution_id=execution_id)
    return execution_id


def request_of(execution: Execution, *, for_update: bool = False) -> ResourceRequest | None:
    """The request ``execution`` belongs to, following ``parent`` and ``original`` to a linked one."""
    current: Any = execution
    for _ in range(_MAX_HOPS):
        if current is None:
            return None
        link = RequestExecution.objects.filter(execution_id=current.pk).values_list("request_id", flat=True)
        request_id = link.first()
        if request_id is None:  # the request's current execution (``ResourceRequest.execution``)
            request_id = (
                ResourceRequest.objects.filter(execution_id=current.pk).values_list("pk", flat=True).first()
            )
        if request_id is not None:
            if for_update:
                return ResourceRequest.objects.select_for_update().filter(pk=request_id).first()
            requests = ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center")
            return requests.filter(pk=request_id).first()
        next_id = current.parent_id or current.original_id
        current = Execution.objects.filter(pk=next_id).only("pk", "parent_id", "original_id").first()
    return None


def descends_from(execution: Execution, ancestor_id: Any) -> bool:
    """Whether ``execution`` is ``ancestor_id`` or a replay / retry of it (through ``original``)."""
    current: Any = execution
    for _ in range(_MAX_HOPS):
        if current is None:
            return False
        if current.pk == ancestor_id:
            return True
        current = Execution.objects.filter(pk=current.original_id).only("pk", "original_id").first()
    return False


def link(request: ResourceRequest, execution: Execution) -> None:
    """Record that a top-level ``execution`` (a replay or retry) now belongs to ``request``."""
    if execution.parent_id is None:
        RequestExecution.objects.get_or_create(execution_id=execution.pk, defaults={"request": request})


def request_ids(execution_ids: list[Any]) -> dict[Any, int]:
    """Execution id → request id for directly linked executions (lists)."""
    rows = RequestExecution.objects.filter(execution_id__in=execution_ids).values_list(
        "execution_id", "request_id"
    )
    return dict(rows)
