"""The periodic safety net (``orchestrator.reconcile``, run by celery-beat every ~30 s).

Nothing is lost when a worker or the broker dies because the database, not the broker, holds the
state, and this sweep re-sends whatever the broker may have dropped:

- task runs RUNNING whose heartbeat stopped for longer than the lease (their worker was killed):
  RUNNING → RETRYING → QUEUED and dispatched again; the next claim records a new attempt;
- task runs CREATED/QUEUED that no worker claimed (a dispatch lost between commit and broker);
- task runs KILLING whose worker vanished (nothing will acknowledge the kill), and KILLING
  executions whose ``finish_kill`` timer was lost: they end KILLED;
- lost timer messages: due retries, pauses, WaitFor checks, Subflow parents, flowable timeouts,
  MAX_DURATION SLAs.

Both rescues cover every execution that still schedules work on workers: RUNNING, RETRYING (another
run waits for its next attempt) and PAUSED (a Pause in a parallel branch), and the ``afterExecution``
runs of an execution that already ended. Every step is a compare-and-set, so running it twice, or on
two beat hosts, does no harm.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from orchestrator.executor import control, failures, handoff, retries, sla_monitor, timeouts, waiting
from orchestrator.state import flow_snapshots, transitions
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun
from orchestrator.worker import heartbeat

logger = logging.getLogger(__name__)

S = State
# Executions whose worker task runs are still wanted (their results move the execution on).
SCHEDULING = (S.RUNNING, S.RETRYING, S.PAUSED)


def _wanted(runs: QuerySet[TaskRun]) -> list[tuple[Any, ...]]:
    """Filter ``runs`` (a ``values_list`` starting with pk, task id, execution id, execution state) to
    those of scheduling executions, or ``afterExecution`` runs of ended ones."""
    rows = list(runs.filter(execution__state__in=[*SCHEDULING, *TERMINAL]))
    after: dict[Any, set[str]] = {}
    wanted = []
    for row in rows:
        _, task_id, execution_id, execution_state = row[:4]
        if execution_state in TERMINAL:
            if execution_id not in after:
                after[execution_id] = _after_execution_ids(execution_id)
            if task_id not in after[execution_id]:
                continue  # a leftover of an ended execution, not an afterExecution task
        wanted.append(row)
    return wanted


def _after_execution_ids(execution_id: Any) -> set[str]:
    return failures.after_execution_ids(flow_snapshots.flow_for(Execution.objects.get(pk=execution_id)))


def requeue_lost(*, lease: timedelta | None = None) -> list[str]:
    """Re-queue worker-held RUNNING runs whose heartbeat is older than ``lease``; their ids."""
    lease = lease if lease is not None else timedelta(seconds=heartbeat.lease())
    cutoff = timezone.now() - lease
    candidates = _wanted(
        _stale(TaskRun.objects.filter(state=S.RUNNING), cutoff).values_list(
            "pk", "task_id", "execution_id", "execution__state", "attempts", "heartbeat", "worker"
        )
    )
    requeued = []
    for taskrun_id, _, _, _, attempts, beat, worker in candidates:
        with transaction.atomic():
            # Re-check under the row lock: the worker may have beaten (or finished) since the query.
            run = (
                TaskRun.objects.select_for_update()
                .filter(pk=taskrun_id, state=S.RUNNING, attempts=attempts, heartbeat=beat)
                .first()
            )
            if run is None:
                continue
            reason = f"worker {worker} lost (no heartbeat since {beat or run.started})"
            if not transitions.transition(run, S.RETRYING, reason=reason):
                continue
            if not transitions.transition(run, S.QUEUED, reason="re-queued by the reconciler"):
                continue
            run_id = str(run.pk)
            transaction.on_commit(lambda run_id=run_id: handoff.dispatch(run_id), robust=True)
            requeued.append(run_id)
            logger.warning("task run %s (%s): %s; re-queued", run_id, run.task_id, reason)
    return requeued


def _stale(runs: QuerySet[TaskRun], cutoff: datetime) -> QuerySet[TaskRun]:
    """Worker-held runs whose heartbeat (or, never beaten, start) is older than ``cutoff``."""
    return runs.exclude(worker="").filter(
        Q(heartbeat__lt=cutoff) | Q(heartbeat__isnull=True, started__lt=cutoff)
    )


def redispatch_unclaimed(*, older_than: timedelta) -> int:
    """Send again worker task runs created/queued longer than ``older_than`` ago but never claimed.

    Covers a dispatch lost between commit and broker (``on_commit`` is best effort). A duplicate
    message finds the run claimed and does nothing.
    """
    cutoff = timezone.now() - older_than
    stale = TaskRun.objects.filter(state__in=[S.CREATED, S.QUEUED], created__lt=cutoff)
    rows = _wanted(stale.values_list("pk", "task_id", "execution_id", "execution__state"))
    for taskrun_id, *_ in rows:
        handoff.dispatch(str(taskrun_id))
    return len(rows)


def redispatch_stale(*, older_than: timedelta) -> int:
    """Send again runs never claimed and retries whose wake-up was lost; safe to run any time."""
    return redispatch_unclaimed(older_than=older_than) + retries.resume_due()


def finish_lost_kills(*, lease: timedelta | None = None) -> int:
    """End KILLED what a kill left behind; how many task runs and executions were ended.

    A KILLING run whose heartbeat stopped has no worker left to acknowledge the kill; a KILLING
    execution longer than the grace period lost its ``finish_kill`` timer.
    """
    lease = lease if lease is not None else timedelta(seconds=heartbeat.lease())
    now = timezone.now()
    ended = 0
    for run in _stale(TaskRun.objects.filter(state=S.KILLING), now - lease):
        with transaction.atomic():
            locked = TaskRun.objects.select_for_update().filter(pk=run.pk, heartbeat=run.heartbeat).first()
            if locked is not None and transitions.transition(
                locked, S.KILLED, reason=f"worker {run.worker} lost while being killed"
            ):
                ended += 1
                logger.warning("task run %s: worker %s lost while being killed", run.pk, run.worker)
    grace = timedelta(seconds=control.KILL_GRACE_SECONDS)
    for execution_id in Execution.objects.filter(state=S.KILLING).values_list("pk", flat=True):
        with transaction.atomic():
            execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
            if execution is None or execution.state != S.KILLING:
                continue
            overdue = _since_last(execution.history, S.KILLING) + grace < now
            ended += control.end_kill(execution, force=overdue)
    return ended


def _since_last(history: list[dict[str, Any]], state: State) -> datetime:
    for entry in reversed(history or []):
        if entry.get("state") == state and entry.get("date"):
            return datetime.fromisoformat(str(entry["date"]).replace("Z", "+00:00"))
    return timezone.now()


def reconcile(*, lease: timedelta | None = None, stale_after: timedelta | None = None) -> dict[str, int]:
    """One sweep: re-queue runs of vanished workers, re-send runs never claimed, finish lost kills,
    fire timers whose message was lost."""
    requeued = requeue_lost(lease=lease)
    stale_after = stale_after if stale_after is not None else timedelta(seconds=heartbeat.lease())
    redispatched = redispatch_unclaimed(older_than=stale_after)
    killed = finish_lost_kills(lease=lease)
    woken = retries.resume_due()  # retries whose wake-up message was lost
    woken += waiting.wake_due()  # pauses/WaitFor/Subflow parents whose wake-up message was lost
    timed_out = timeouts.expire_flowables()
    timed_out += sla_monitor.expire_due()  # MAX_DURATION SLAs whose countdown message was lost
    return {
        "requeued": len(requeued),
        "redispatched": redispatched,
        "killed": killed,
        "woken": woken,
        "timed_out": timed_out,
    }


@shared_task(name="orchestrator.reconcile")
def reconcile_task() -> dict[str, int]:
    """Beat sends this every ~30 s: re-queue runs of vanished workers, re-send runs never claimed."""
    return reconcile()
