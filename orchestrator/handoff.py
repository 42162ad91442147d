"""Hand-off: a worker that has just finished a task run runs the next one itself, skipping the broker.

In a sequential flow the next task run is created in the same transaction that records the previous
one's result. Sending it through Redis only for the same, now idle, worker to fetch it back doubled
the cost of a step (``bench/engine_overhead.py``). So while a worker executes a delivery it may keep
*one* of the runs the engine creates (the first offered) and execute it right after, for at most
``PORTICO_HANDOFF_SECONDS`` per delivery; every other run is dispatched through the broker as usual,
so Parallel branches still spread over all workers and a long flow cannot hold a worker forever.

Nothing is lost if the worker dies holding a hand-off: the run is already committed as CREATED, and
the reconciler re-dispatches created runs that nobody claimed (``engine.redispatch_stale``). The
claim is the same compare-and-set as for a broker delivery, so a run is still executed only once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from django.conf import settings

_local = threading.local()


def budget() -> float:
    """Seconds a delivery may keep running handed-off runs; 0 turns hand-off off."""
    return float(getattr(settings, "PORTICO_HANDOFF_SECONDS", 1.0))


def offer(taskrun_id: str) -> bool:
    """Called when a run is ready to dispatch: True when this thread's worker will run it next."""
    pending: list[str] | None = getattr(_local, "pending", None)
    if pending is None or pending or time.monotonic() > getattr(_local, "deadline", 0.0):
        return False
    pending.append(taskrun_id)
    return True


def runs(first: str) -> Iterator[str]:
    """The runs one delivery executes: ``first``, then each run handed off while executing the last."""
    if budget() <= 0 or getattr(_local, "pending", None) is not None:
        yield first  # hand-off is off, or already collecting for an outer delivery in this thread
        return
    _local.pending = []
    _local.deadline = time.monotonic() + budget()
    try:
        yield first
        while _local.pending:
            yield _local.pending.pop()
    finally:
        leftover, _local.pending = _local.pending, None
        for taskrun_id in leftover:  # the consumer stopped early (an exception): use the broker
            _send(taskrun_id)


def _send(taskrun_id: str) -> None:
    from .worker import run_task  # the worker imports the engine, which imports this module

    run_task.delay(taskrun_id)
