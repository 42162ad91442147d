"""The periodic safety net (``orchestrator.reconcile``, run by celery-beat every ~30 s).

Nothing is lost when a worker or the broker dies because the database, not the broker, holds the
state, and this sweep re-sends whatever the broker may have dropped:

- task runs RUNNING whose heartbeat stopped for longer than the lease (their worker was killed):
  RUNNING → RETRYING → QUEUED and dispatched again; the next claim records a new attempt;
- task runs CREATED/QUEUED that no worker claimed (a dispatch lost between commit and broker).

Every step is a compare-and-set, so running it twice, or on two beat hosts, does no harm.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import engine, flowcontrol, heartbeat
from .models import State, TaskRun

logger = logging.getLogger(__name__)


def requeue_lost(*, lease: timedelta | None = None) -> list[str]:
    """Re-queue worker-held RUNNING runs whose heartbeat is older than ``lease``; their ids."""
    lease = lease if lease is not None else timedelta(seconds=heartbeat.lease())
    cutoff = timezone.now() - lease
    candidates = (
        TaskRun.objects.filter(state=State.RUNNING, execution__state=State.RUNNING)
        .exclude(worker="")
        .filter(Q(heartbeat__lt=cutoff) | Q(heartbeat__isnull=True, started__lt=cutoff))
        .values_list("pk", "attempts", "heartbeat", "worker")
    )
    requeued = []
    for taskrun_id, attempts, beat, worker in list(candidates):
        with transaction.atomic():
            # Re-check under the row lock: the worker may have beaten (or finished) since the query.
            run = (
                TaskRun.objects.select_for_update()
                .filter(pk=taskrun_id, state=State.RUNNING, attempts=attempts, heartbeat=beat)
                .first()
            )
            if run is None:
                continue
            reason = f"worker {worker} lost (no heartbeat since {beat or run.started})"
            if not engine.transition(run, State.RETRYING, reason=reason):
                continue
            if not engine.transition(run, State.QUEUED, reason="re-queued by the reconciler"):
                continue
            run_id = str(run.pk)
            transaction.on_commit(lambda run_id=run_id: engine._dispatch(run_id), robust=True)
            requeued.append(run_id)
            logger.warning("task run %s (%s): %s; re-queued", run_id, run.task_id, reason)
    return requeued


def reconcile(*, lease: timedelta | None = None, stale_after: timedelta | None = None) -> dict[str, int]:
    """One sweep: re-queue runs of vanished workers, re-send runs never claimed."""
    requeued = requeue_lost(lease=lease)
    stale_after = stale_after if stale_after is not None else timedelta(seconds=heartbeat.lease())
    redispatched = engine.redispatch_stale(older_than=stale_after)
    woken = flowcontrol.wake_due()  # pauses/WaitFor/Subflow parents whose wake-up message was lost
    return {"requeued": len(requeued), "redispatched": redispatched, "woken": woken}
