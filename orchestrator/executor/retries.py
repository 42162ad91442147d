"""Kestra's ``retry``: when a failed task (or execution) is tried again, and how the engine does it.

The policy maths are pure functions (``RetryPolicy``, ``delay``, ``next_retry_at``). The hooks below
them run inside the engine's transactions:

* ``RETRY_FAILED_TASK`` (Kestra's default): the task run goes RUNNING → RETRYING (the execution too)
  and a Celery message with a ``countdown`` wakes it at the retry date, so no worker is held while it
  waits. Waking moves it RETRYING → QUEUED and dispatches it again; the next claim bumps ``attempts``.
  ``wake_at`` holds the date, so the periodic sweep (``resume_due``) re-sends a lost wake-up message.
* ``CREATE_NEW_EXECUTION``: the task run and the execution end RETRIED at once (a terminal state, so
  the concurrency slot frees) and, at the retry date, a new execution of the same flow revision starts
  with the same inputs, linked through ``original``; its attempt number is the length of that chain.

Which failures are retried: every failure of a task under a policy, as in Kestra (Kestra's own flows
retry ``Fail`` tasks and template errors that depend on ``taskrun.attemptsCount``), *except*
``StepError(permanent=True)``. A plugin raises a permanent error when it knows another attempt cannot
succeed or must not be made (bad credentials, a rejected request that may already have created a
resource); retrying those only delays the failure or duplicates side effects. ``Fail`` and template
errors are therefore raised as non-permanent. This is the one deliberate difference from Kestra.

An ``afterExecution`` task of an ended execution retries too (in place: it cannot start a new execution);
its execution's state stays final. Children of a WorkingDirectory retry inline (working_directory.py); one
whose ``CREATE_NEW_EXECUTION`` policy has an attempt left ends RETRIED, and its directory's failure then
takes the path above with the child's policy (``new_execution_policy``).

Where the policy comes from (Kestra's executor): the task's own ``retry``, else the nearest enclosing
flowable's ``retry`` (applied to the failing child), else the flow's ``retry``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app, shared_task
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import failures, flowables, handoff
from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.spec import Flow, TaskSpec, flag_set
from orchestrator.state import flow_snapshots, logs, transitions
from orchestrator.state.models import SEVERITY, TERMINAL, Execution, State, TaskRun

logger = logging.getLogger(__name__)

S = State
# Starts the execution that replaces a RETRIED one (``retry_executions``), sent by name: it sits above
# the walker, which this module serves.
RETRY_EXECUTION = "orchestrator.retry_execution"
RETRY_FAILED_TASK = "RETRY_FAILED_TASK"
CREATE_NEW_EXECUTION = "CREATE_NEW_EXECUTION"
# A wake-up message may arrive a little early (clock skew between hosts); within this it just runs.
EARLY_TOLERANCE = timedelta(milliseconds=50)


@dataclass(frozen=True)
class RetryPolicy:
    """One ``retry`` block. ``max_attempt`` counts every attempt, the first included (Kestra)."""

    type: str
    interval: timedelta | None = None
    max_interval: timedelta | None = None
    min_interval: timedelta | None = None
    delay_factor: float | None = None
    max_attempt: int | None = None
    max_duration: timedelta | None = None
    warning_on_retry: bool = False
    behavior: str = RETRY_FAILED_TASK

    @classmethod
    def from_spec(cls, raw: dict[str, Any]) -> RetryPolicy:
        """Build from a flow's ``retry`` mapping (already validated by the spec loader)."""

        def duration(key: str) -> timedelta | None:
            return parse_duration(raw[key]) if raw.get(key) is not None else None

        factor = raw.get("delayFactor")
        warning = raw.get("warningOnRetry", False)
        return cls(
            type=str(raw.get("type", "constant")),
            interval=duration("interval"),
            max_interval=duration("maxInterval"),
            min_interval=duration("minInterval"),
            delay_factor=float(factor) if factor is not None else None,
            max_attempt=int(raw["maxAttempt"]) if raw.get("maxAttempt") is not None else None,
            max_duration=duration("maxDuration"),
            warning_on_retry=flag_set(warning),
            behavior=str(raw.get("behavior") or RETRY_FAILED_TASK),
        )


def delay(policy: RetryPolicy, attempt_number: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after attempt ``attempt_number`` (1 = the first) failed.

    constant: ``interval``. exponential: ``interval × delayFactor^(n-1)`` (factor 2 by default), capped
    at ``maxInterval`` — Kestra's documented backoff (its failsafe policy); Kestra's executor computes a
    linear ``interval × 2 × (n-1)`` instead, which waits 0 s before the first retry. random: uniform in
    ``[minInterval, maxInterval)``.
    """
    zero = timedelta(0)
    if policy.type == "exponential":
        base = policy.interval or zero
        factor = policy.delay_factor if policy.delay_factor is not None else 2.0
        try:
            wait = base * (factor ** max(attempt_number - 1, 0))
        except OverflowError:
            wait = policy.max_interval or base
        if policy.max_interval is not None and wait > policy.max_interval:
            wait = policy.max_interval
        return max(wait, zero)
    if policy.type == "random":
        low = policy.min_interval or zero
        high = policy.max_interval or low
        if high <= low:
            return low
        return low + (high - low) * (rng or random).random()
    wait = policy.interval or zero
    if policy.max_interval is not None and wait > policy.max_interval:
        wait = policy.max_interval
    return wait


def next_retry_at(
    policy: RetryPolicy,
    *,
    attempt_number: int,
    first_started: datetime,
    last_ended: datetime,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to start attempt ``attempt_number + 1``; None once ``maxAttempt`` or ``maxDuration`` is spent.

    As in Kestra, the next date counts from the end of the failed attempt and must not fall after
    ``first_started + maxDuration``; without either limit the task is retried until it succeeds.
    """
    if policy.max_attempt is not None and attempt_number >= policy.max_attempt:
        return None
    at = last_ended + delay(policy, attempt_number, rng=rng)
    if policy.max_duration is not None and at > first_started + policy.max_duration:
        return None
    return at


# --- where a task's policy comes from --------------------------------------------------------------


_parents_cache: dict[str, dict[str, TaskSpec | None]] = {}


def _parents(flow: Flow) -> dict[str, TaskSpec | None]:
    """task id → enclosing flowable task (None at the top level); once per flow revision."""
    cached = _parents_cache.get(flow.revision) if flow.revision else None
    if cached is not None:
        return cached
    found: dict[str, TaskSpec | None] = {}

    def visit(tasks: list[TaskSpec], parent: TaskSpec | None) -> None:
        for task in tasks:
            found.setdefault(task.id, parent)
            for children in task.branches.values():
                visit(children, task)

    after = getattr(flow, "after_execution", None) or []
    visit([*flow.tasks, *flow.errors, *flow.finally_, *after], None)
    if flow.revision:
        if len(_parents_cache) >= 256:
            _parents_cache.clear()  # revisions are content hashes: rebuilding is always correct
        _parents_cache[flow.revision] = found
    return found


def _ancestors(flow: Flow, task_id: str) -> Iterator[TaskSpec]:
    parents = _parents(flow)
    parent = parents.get(task_id)
    seen: set[str] = set()
    while parent is not None and parent.id not in seen:
        seen.add(parent.id)
        yield parent
        parent = parents.get(parent.id)


def own_policy(task: TaskSpec | None) -> RetryPolicy | None:
    """The task's own ``retry`` block, if it has one."""
    if task is not None and isinstance(task.common.get("retry"), dict):
        return RetryPolicy.from_spec(task.common["retry"])
    return None


def policy_for(flow: Flow, task_id: str) -> RetryPolicy | None:
    """The retry policy that applies to ``task_id``: its own, an enclosing flowable's, or the flow's."""
    own = own_policy(flow.find_task(task_id))
    if own is not None:
        return own
    for ancestor in _ancestors(flow, task_id):
        if (policy := own_policy(ancestor)) is not None:
            return policy
    flow_retry = (getattr(flow, "extra", None) or {}).get("retry")
    if isinstance(flow_retry, dict):
        return RetryPolicy.from_spec(flow_retry)
    return None


# --- attempts ---------------------------------------------------------------------------------------

_ATTEMPT_END = {
    S.SUCCESS: S.SUCCESS,
    S.WARNING: S.WARNING,
    S.FAILED: S.FAILED,
    S.RETRYING: S.FAILED,
    S.RETRIED: S.FAILED,
    S.KILLED: S.KILLED,
    S.KILLING: S.KILLED,
}


def attempts(taskrun: TaskRun) -> list[dict[str, Any]]:
    """Per-attempt history, derived from the run's state history (one RUNNING entry per attempt).

    ``[{"attempt": 1, "state": "FAILED", "start": iso, "end": iso | None, "error": str | None}]``; the
    error of a retried attempt is the reason recorded on its RETRYING/RETRIED entry.
    """
    result: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for entry in taskrun.history or []:
        state = entry.get("state")
        if state == S.RUNNING:
            if current is not None and current["end"] is None:
                current["state"] = S.FAILED.value  # a worker vanished mid-attempt and it was re-run
            current = {
                "attempt": len(result) + 1,
                "state": S.RUNNING.value,
                "start": entry.get("date"),
                "end": None,
                "error": None,
            }
            result.append(current)
        elif current is not None and current["end"] is None and state in _ATTEMPT_END:
            current["state"] = _ATTEMPT_END[S(state)].value
            current["end"] = entry.get("date")
            if current["state"] == S.FAILED.value:
                current["error"] = entry.get("reason") or taskrun.error or None
    return result


def success_state(flow: Flow, taskrun: TaskRun, *, warned: bool = False) -> State:
    """SUCCESS, or WARNING when the task itself said so (``RunContext.warn``, e.g. ``warningOnStdErr``),
    when it took retries and the policy says ``warningOnRetry`` (Kestra's worker) or, for a
    WorkingDirectory, when a child counts as WARNING; ``allowWarning`` on the task then turns that
    WARNING back into SUCCESS."""

    state = S.WARNING if warned else S.SUCCESS
    policy = policy_for(flow, taskrun.task_id)
    if policy is not None and policy.warning_on_retry and taskrun.attempts > 1:
        state = S.WARNING
    task = flow.find_task(taskrun.task_id)
    if state == S.SUCCESS and task is not None and is_working_directory(task):
        state = children_outcome(flow, taskrun)  # a WARNING child warns the directory
    if state == S.WARNING and task is not None and flag_set(task.common.get("allowWarning")):
        state = S.SUCCESS
    return state


# --- hooks run by the engine ---------------------------------------------------------------------------


def retry_failed(taskrun: TaskRun, message: str) -> bool:
    """Inside ``walker.task_failed``'s transaction: schedule another attempt if the policy allows.

    True when the failure was turned into a retry (RETRYING or RETRIED); the caller then stops.
    """

    execution = taskrun.execution
    flow = flow_snapshots.flow_for(execution)
    # A WorkingDirectory child that asked for a new execution (it ended RETRIED) decides for the directory.
    policy = new_execution_policy(flow, taskrun) or policy_for(flow, taskrun.task_id)
    if policy is None:
        return False
    now = timezone.now()
    # An afterExecution task of an ended execution cannot replace it: it is retried in place instead.
    if policy.behavior == CREATE_NEW_EXECUTION and execution.state not in TERMINAL:
        at = new_execution_at(policy, execution, now)
        if at is None:
            return False
        return _retry_as_new_execution(taskrun, execution, message, at)
    at = next_retry_at(
        policy,
        attempt_number=max(taskrun.attempts, 1),
        first_started=taskrun.started or now,
        last_ended=now,
    )
    if at is None:
        return False
    # The reason of the RETRYING entry is the failed attempt's error (``attempts`` reads it back).
    if not transitions.transition(taskrun, S.RETRYING, reason=message, error=message, wake_at=at):
        return False
    wait = max((at - now).total_seconds(), 0.0)
    logs.log(
        execution,
        taskrun,
        "WARN",
        f"{message} (attempt {taskrun.attempts} failed; retrying in "
        f"{format_duration(timedelta(seconds=round(wait, 3)))})",
    )
    if execution.state == S.RUNNING:
        transitions.transition(execution, S.RETRYING, reason=f"task '{taskrun.task_id}' is retrying")
    taskrun_id = str(taskrun.pk)
    transaction.on_commit(lambda: _send_wake(taskrun_id, wait), robust=True)
    return True


def new_execution_at(policy: RetryPolicy, execution: Execution, now: datetime) -> datetime | None:
    """When a new execution replaces ``execution`` under a ``CREATE_NEW_EXECUTION`` policy; None when
    the policy has no attempt left (the attempt number is the length of the ``original`` chain)."""
    chain = _original_chain(execution)
    return next_retry_at(policy, attempt_number=len(chain), first_started=chain[-1].created, last_ended=now)


def _original_chain(execution: Execution) -> list[Execution]:
    """The execution and the ones it was retried/replayed from, newest first (Kestra's attempt number
    is the chain's length; ``maxDuration`` counts from the oldest one's creation)."""
    chain = [execution]
    seen = {execution.pk}
    current = execution
    while current.original_id is not None and current.original_id not in seen:
        original = Execution.objects.filter(pk=current.original_id).first()
        if original is None:
            break
        chain.append(original)
        seen.add(original.pk)
        current = original
    return chain


def _retry_as_new_execution(taskrun: TaskRun, execution: Execution, message: str, at: datetime) -> bool:

    if not transitions.transition(taskrun, S.RETRIED, reason=message, error=message, wake_at=at):
        return False
    logs.log(execution, taskrun, "ERROR", message)
    parent = taskrun.parent
    while parent is not None:  # Kestra marks the enclosing flowables RETRIED as well
        transitions.transition(parent, S.RETRIED, reason=message)
        parent = parent.parent
    transitions.transition(execution, S.RETRIED, reason=f"a new execution starts at {at.isoformat()}")
    execution_id = str(execution.pk)
    wait = max((at - timezone.now()).total_seconds(), 0.0)
    transaction.on_commit(lambda: send_new_execution(execution_id, wait), robust=True)
    return True


def _send_wake(taskrun_id: str, countdown: float) -> None:
    wake.apply_async((taskrun_id,), countdown=countdown)


def send_new_execution(execution_id: str, countdown: float) -> None:
    current_app.send_task(RETRY_EXECUTION, args=(execution_id,), countdown=countdown)


@shared_task(name="orchestrator.retry_wake")
def wake(taskrun_id: str) -> bool:
    """Start the next attempt of a RETRYING run (idempotent: any other state, or too early, is a no-op)."""

    with transaction.atomic():
        run = TaskRun.objects.select_for_update().select_related("execution").filter(pk=taskrun_id).first()
        if run is None or run.state != S.RETRYING:
            return False
        now = timezone.now()
        if run.wake_at is not None and run.wake_at > now + EARLY_TOLERANCE:
            wait = (run.wake_at - now).total_seconds()
            transaction.on_commit(lambda: _send_wake(taskrun_id, wait), robust=True)
            return False
        execution = Execution.objects.select_for_update().get(pk=run.execution_id)
        # An afterExecution run retries although its execution has ended (and that state stays final).
        if execution.state not in (S.RUNNING, S.RETRYING) and not failures.is_after_execution_run(
            execution, run
        ):
            return False  # killed or ended meanwhile; the kill path settles the run
        if not transitions.transition(run, S.QUEUED, wake_at=None):
            return False
        still_retrying = execution.task_runs.filter(state=S.RETRYING).exists()
        if execution.state == S.RETRYING and not still_retrying:
            reason = f"task '{run.task_id}' attempt {run.attempts + 1}"
            transitions.transition(execution, S.RUNNING, reason=reason)
        transaction.on_commit(lambda: handoff.dispatch(taskrun_id), robust=True)
    return True


def resume_due(*, grace: timedelta = timedelta(seconds=5)) -> int:
    """Periodic safety net: wake retries whose Celery message was lost (Redis restarted, worker gone)."""
    cutoff = timezone.now() - grace
    count = 0
    for taskrun_id in TaskRun.objects.filter(state=S.RETRYING, wake_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        wake.delay(str(taskrun_id))
        count += 1
    retried = (
        TaskRun.objects.filter(state=S.RETRIED, wake_at__lt=cutoff, execution__state=S.RETRIED)
        .values_list("execution_id", flat=True)
        .distinct()
    )
    for execution_id in retried:
        current_app.send_task(RETRY_EXECUTION, args=(str(execution_id),))
        count += 1
    return count


# --- WorkingDirectory: its children run inline on a worker, but count here like a block ---------------


def is_working_directory(task: TaskSpec) -> bool:
    return task.type.endswith(".WorkingDirectory")


def children_outcome(flow: Flow, run: TaskRun) -> State:
    """The worst state the children of the WorkingDirectory ``run`` count as (SUCCESS when none)."""
    states = [
        flowables.counts_as(flow.find_task(task_id), S(state))
        for task_id, state in TaskRun.objects.filter(parent=run).values_list("task_id", "state")
    ]
    return max([S.SUCCESS, *states], key=SEVERITY.__getitem__)


def new_execution_policy(flow: Flow, run: TaskRun) -> RetryPolicy | None:
    """The ``CREATE_NEW_EXECUTION`` policy of the child that ended the WorkingDirectory ``run`` RETRIED
    (``retry_failed`` applies it to the directory); None for any other run."""
    task = flow.find_task(run.task_id)
    if task is None or not is_working_directory(task):
        return None
    for task_id in TaskRun.objects.filter(parent=run, state=S.RETRIED).values_list("task_id", flat=True):
        policy = own_policy(flow.find_task(task_id))
        if policy is not None and policy.behavior == CREATE_NEW_EXECUTION:
            return policy
    return None
