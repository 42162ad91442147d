"""Hand-off: a worker that has just finished a task run runs the next one itself, skipping the broker.

In a sequential flow the next task run is created in the same transaction that records the previous
one's result. Sending it through Redis only for the same, now idle, worker to fetch it back doubled
the cost of a step (``bench/engine_overhead.py``). So while a worker executes a delivery it may keep
*one* of the runs the engine creates (the first offered) and execute it right after, for at most
``PORTICO_HANDOFF_SECONDS`` per delivery; every other run is dispatched through the broker as usual,
so Parallel branches still spread over all workers and a long flow cannot hold a worker forever.

The engine claims such a run for this worker in the same transaction that creates it (``reserve``), so
a handed-off step also skips the claim's own transaction. Runs offered after commit (``offer``, e.g. by
a retry or a reopened concurrency slot) are claimed as usual when their turn comes.

Nothing is lost if the worker dies holding a hand-off: a run claimed for it is RUNNING with this
worker's heartbeat, which stops, so the reconciler re-queues it after the lease, as for any run whose
worker vanished; an offered run is still CREATED and the reconciler re-dispatches it. Every claim is the
same compare-and-set, so a run is still executed only once.

Worker groups (``flowmodel/worker_group.py``): a delivery keeps only a run of its own group (the group
whose queue it came from; None for the default queue), so a run never reaches a worker outside its
group by hand-off either; every other run goes to its group's queue through the sender.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

from orchestrator.flowmodel import worker_group
from orchestrator.flowmodel.worker_group import WorkerGroup
from orchestrator.state.flow_snapshots import flow_for
from orchestrator.state.models import TaskRun

_local = threading.local()


def budget() -> float:
    """Seconds a delivery may keep running handed-off runs; 0 turns hand-off off."""
    return float(getattr(settings, "PORTICO_HANDOFF_SECONDS", 1.0))


def _free(group: WorkerGroup | None) -> bool:
    """Inside a delivery of ``group``'s queue, with nothing taken for the next step yet and budget left."""
    pending: list[Any] | None = getattr(_local, "pending", None)
    key = group.key if group is not None else None
    return (
        pending is not None
        and not pending
        and getattr(_local, "group", None) == key
        and not getattr(_local, "reserved", False)
        and time.monotonic() <= getattr(_local, "deadline", 0.0)
    )


def offer(taskrun_id: str, group: WorkerGroup | None = None) -> bool:
    """Called when a run is ready to dispatch: True when this thread's worker will run it next."""
    if not _free(group):
        return False
    _local.pending.append(taskrun_id)
    return True


def reserve(group: WorkerGroup | None = None) -> dict[str, Any] | None:
    """Called inside the transaction that creates a run: the claim fields if this worker will run it.

    The engine then claims the run in that same transaction (``engine._Walker._create``), which saves
    the claim its own transaction; ``taken(run)`` on commit queues it here. If the transaction rolls
    back there is nothing to run, and the reservation ends with the step.
    """
    if not _free(group):
        return None
    _local.reserved = True
    return dict(_local.claim)


def taken(run: Any) -> None:
    """On commit of the transaction that created and claimed ``run`` for this worker."""
    if getattr(_local, "pending", None) is not None:
        _local.pending.append(run)


def runs(first: str, claim: dict[str, Any] | None = None, group: str | None = None) -> Iterator[Any]:
    """The runs one delivery executes: ``first``, then each run handed off while executing the last.

    Items are task run ids (to claim) or task runs this worker already claimed (``reserve``).
    ``claim``: the worker fields a claim records (delivery id, worker name); ``group``: the worker
    group whose queue the delivery came from (None: the default queue), the only runs it may keep.
    """
    if budget() <= 0 or getattr(_local, "pending", None) is not None:
        yield first  # hand-off is off, or already collecting for an outer delivery in this thread
        return
    _local.pending = []
    _local.reserved = False
    _local.claim = claim or {}
    _local.group = group
    _local.deadline = time.monotonic() + budget()
    try:
        yield first
        while _local.pending:
            _local.reserved = False
            yield _local.pending.pop()
    finally:
        leftover, _local.pending, _local.reserved = _local.pending, None, False
        for item in leftover:  # the consumer stopped early (an exception): use the broker
            if isinstance(item, str):
                _send(item, group_of_run(item))
            # A run claimed for this worker stays RUNNING without a heartbeat: the reconciler re-queues it.


Sender = Callable[[str, WorkerGroup | None], None]
_sender: list[Sender] = []


def set_sender(sender: Sender) -> None:
    """How a run reaches a worker of its group through the broker (``worker.groups.send``, handed down
    in ``AppConfig.ready``): the executor cannot import the worker, which sits above it."""
    _sender[:] = [sender]


_LOOK_UP: Any = object()


def dispatch(taskrun_id: str, group: WorkerGroup | None = _LOOK_UP) -> None:
    """Send the run to a worker: the current one when it takes the hand-off, else through the broker.

    ``group``: the run's worker group, when the caller knows it (the walker, which creates runs);
    otherwise it is looked up (a retry, a restart, the reconciler).
    """
    if group is _LOOK_UP:
        group = group_of_run(taskrun_id)
    if not offer(taskrun_id, group):
        _send(taskrun_id, group)


def group_of_run(taskrun_id: str) -> WorkerGroup | None:
    """The worker group the run's task needs, from its execution's flow snapshot."""
    run = (
        TaskRun.objects.select_related("execution")
        .only("task_id", "execution__flow_revision", "execution__namespace", "execution__flow_id")
        .filter(pk=taskrun_id)
        .first()
    )
    if run is None:
        return None
    flow = flow_for(run.execution)  # parsed once per revision; the source is read only on a miss
    return worker_group.of_task(flow, flow.find_task(run.task_id))


def _send(taskrun_id: str, group: WorkerGroup | None) -> None:
    if not _sender:
        raise RuntimeError("no task-run sender registered: is the orchestrator app loaded?")
    _sender[0](taskrun_id, group)
