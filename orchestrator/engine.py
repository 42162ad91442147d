"""The execution state machine.

Every state change goes through ``transition``: it locks the row, checks Kestra's FROM→TO table, writes
with a compare-and-set on the state it read, and sends the signal in the same transaction. ``advance``
is the scheduler: under the execution's row lock it walks the flow spec against the task runs so far
and creates (and, on commit, dispatches) whatever may run next, or ends the execution.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from . import concurrency, failures, flowables, handoff, masking, registry, retries, templating
from . import context as template_context
from . import inputs as flow_inputs
from .models import TERMINAL, Execution, LogLine, State, TaskRun
from .signals import execution_state_changed, taskrun_state_changed
from .spec import Flow, TaskSpec, parse_flow

logger = logging.getLogger(__name__)

S = State
ALLOWED: dict[State, frozenset[State]] = {
    S.CREATED: frozenset({S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED, S.SKIPPED}),
    S.QUEUED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED}),
    S.RUNNING: frozenset(
        {S.PAUSED, S.SUCCESS, S.WARNING, S.FAILED, S.RETRYING, S.RETRIED, S.KILLING, S.KILLED}
    ),
    S.PAUSED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.RETRYING: frozenset({S.QUEUED, S.RUNNING, S.RETRIED, S.FAILED, S.KILLING, S.KILLED}),
    S.RESTARTED: frozenset({S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.KILLING: frozenset({S.KILLED, S.FAILED}),
    # Terminal states only leave through a restart.
    S.FAILED: frozenset({S.RESTARTED}),
    S.WARNING: frozenset({S.RESTARTED}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.SUCCESS: frozenset(),
    S.CANCELLED: frozenset(),
    S.RETRIED: frozenset(),
    S.SKIPPED: frozenset(),
}

_SEVERITY = {S.SUCCESS: 0, S.SKIPPED: 0, S.WARNING: 1, S.FAILED: 2, S.RETRIED: 2, S.CANCELLED: 3, S.KILLED: 4}
_FAILING = frozenset({S.FAILED, S.KILLED, S.CANCELLED})


def is_allowed(old: str, new: str) -> bool:
    return State(new) in ALLOWED[State(old)]


def transition(
    obj: Execution | TaskRun,
    to: State | str,
    *,
    reason: str = "",
    expect: dict[str, Any] | None = None,
    known: bool = False,
    **fields: Any,
) -> bool:
    """Move ``obj`` to ``to`` if Kestra's state graph allows it; False (and no write) otherwise.

    Extra ``fields`` are written in the same UPDATE (e.g. ``outputs``). A callable field value gets the
    column's current value (``attempts=bump`` counts a claim); ``expect`` adds conditions on the row
    (e.g. the attempt a worker holds). The UPDATE filters on the state it started from, and on
    ``expect``: a compare-and-set that also holds on SQLite, where SELECT FOR UPDATE is a no-op, so two
    workers can never both claim or finish the same row.

    The state, history and derived fields are read under the row lock, unless ``known``: the caller's
    ``obj`` was read under lock in this transaction, or is its own copy as this function last wrote it
    (a worker finishing the run it claimed). The compare-and-set then fails if anything changed since,
    because every change moves the state (no state leads to itself) and a re-claim bumps ``attempts``.
    """
    to = State(to)
    model = type(obj)
    derived = [key for key, value in fields.items() if callable(value)]
    # No savepoint inside a caller's transaction: two extra round trips per change, and an error in
    # here aborts the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        if known:
            row = {key: getattr(obj, key) for key in ("state", "history", "started", *derived)}
        else:
            locked = model.objects.select_for_update().filter(pk=obj.pk, **(expect or {}))
            row = locked.values("state", "history", "started", *derived).first()
            if row is None:
                return False
        unchanged = {**(expect or {}), **{key: row[key] for key in derived}}
        for key in derived:
            fields[key] = fields[key](row[key])
        old = State(row["state"])
        if to not in ALLOWED[old]:
            logger.debug("refused %s %s: %s -> %s", model.__name__, obj.pk, old, to)
            return False
        now = timezone.now()
        entry = {"state": to.value, "date": template_context.iso(now)}
        if reason:
            entry["reason"] = reason
        values: dict[str, Any] = {"state": to, "history": [*row["history"], entry], **fields}
        if to == S.RUNNING and row["started"] is None:
            values["started"] = now
        if to in TERMINAL:
            values["ended"] = now
        if model.objects.filter(pk=obj.pk, state=old, **unchanged).update(**values) != 1:
            return False
        expressions = [k for k, v in values.items() if hasattr(v, "resolve_expression")]
        for key, value in values.items():
            if key not in expressions:
                setattr(obj, key, value)
        if expressions:
            obj.refresh_from_db(fields=expressions)
        _send(obj, old.value, to.value)
    return True


def bump(current: int) -> int:
    """``attempts=bump`` in ``transition``: one more than the locked row holds."""
    return current + 1


def claim_for(run: TaskRun, holder: dict[str, Any]) -> bool:
    """CREATED/QUEUED → RUNNING for the worker ``holder`` names (``worker_task_id``, ``worker``): one more
    attempt and a fresh heartbeat. ``run`` must be current: read under lock, or created in this
    transaction (a hand-off). A broker delivery and a hand-off claim through this one call."""
    return transition(run, S.RUNNING, known=True, attempts=bump, heartbeat=timezone.now(), **holder)


def _send(obj: Execution | TaskRun, old: str | None, new: str) -> None:
    if isinstance(obj, Execution):
        execution_state_changed.send(sender=Execution, execution=obj, old=old, new=new)
    else:
        taskrun_state_changed.send(sender=TaskRun, taskrun=obj, old=old, new=new)


# --- flows -----------------------------------------------------------------------------------------

_flows: dict[str, Flow] = {}
_flows_lock = threading.Lock()
_FLOW_CACHE_SIZE = 256


def flow_for(execution: Execution) -> Flow:
    """The execution's own flow snapshot, parsed once per revision per process."""
    with _flows_lock:
        flow = _flows.get(execution.flow_revision)
    if flow is None:
        flow = parse_flow(execution.flow_source, file=f"{execution.namespace}.{execution.flow_id}")
        _remember(flow)
    return flow


def _remember(flow: Flow) -> None:
    with _flows_lock:
        if len(_flows) >= _FLOW_CACHE_SIZE:
            _flows.clear()  # revisions are content hashes: re-parsing is always correct, just slower
        _flows[flow.revision] = flow


def secret_values(execution: Execution, flow: Flow) -> list[str]:
    """The execution's SECRET input values, also registered for process-wide log masking."""
    values = [execution.inputs.get(i) for i in flow_inputs.secret_ids(flow)]
    secrets = [str(v) for v in values if v not in (None, "")]
    masking.register_secrets(secrets)
    return secrets


def log(
    execution: Execution, taskrun: TaskRun | None, level: str, message: str, secrets: list[str] | None = None
) -> LogLine:
    """Store a log line, masked with the execution's secrets."""
    if secrets is None:
        secrets = secret_values(execution, flow_for(execution))
    return LogLine.objects.create(
        execution=execution,
        taskrun=taskrun,
        level=level.upper(),
        message=masking.mask(str(message), secrets),
    )


# --- starting and advancing ------------------------------------------------------------------------


class FlowDisabled(ValueError):
    """Kestra refuses to execute a flow marked ``disabled: true``; so do we."""


def start_execution(
    flow: Flow,
    inputs: dict[str, Any],
    *,
    labels: dict[str, Any] | None = None,
    trigger: dict | None = None,
    parent_taskrun: TaskRun | None = None,
    execution_id: Any = None,
) -> Execution:
    """Create an execution of ``flow`` with resolved ``inputs``; its first task is dispatched on commit.

    Call it inside the caller's transaction (e.g. with the request's approval): nothing reaches the
    broker unless that transaction commits. ``execution_id``: chosen by a caller that already stored
    FILE inputs in the execution's storage folder (``storage.execution_prefix``).
    """
    if flow.disabled:
        raise FlowDisabled(f"flow {flow.namespace}.{flow.id} is disabled")
    with transaction.atomic():
        execution = Execution.objects.create(
            **({"id": execution_id} if execution_id is not None else {}),
            namespace=flow.namespace,
            flow_id=flow.id,
            flow_revision=flow.revision,
            flow_source=flow.source,
            inputs=inputs,
            labels={**flow.labels, **(labels or {})},
            trigger=trigger,
            parent_id=parent_taskrun.execution_id if parent_taskrun else None,
            parent_taskrun=parent_taskrun,
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        _remember(flow)
        _send(execution, None, S.CREATED.value)
        if concurrency.admit(execution, flow):
            advance(execution.pk)
    return execution


def advance(execution_id: Any) -> None:
    """Create and dispatch the next task run(s), or end the execution when nothing is left to run."""
    with transaction.atomic(savepoint=False):  # no savepoint inside task_succeeded's transaction
        # The flow source is only read when this process has not parsed the revision yet.
        execution = Execution.objects.select_for_update().defer("flow_source").get(pk=execution_id)
        if execution.state in TERMINAL:
            failures.run_after_execution(execution, _Walker)
            return
        if execution.state in (S.PAUSED, S.QUEUED):  # a QUEUED one starts when concurrency frees a slot
            return
        # RETRYING stays as it is: a task run waits for its next attempt (retries.wake moves it on).
        if execution.state not in (S.RUNNING, S.RETRYING) and not transition(execution, S.RUNNING):
            return
        flow = flow_for(execution)
        walker = _Walker(execution, flow)
        outcome = walker.block(None, flow.tasks, flow.errors, flow.finally_)
        if outcome is None:
            return
        if execution.state == S.RETRYING:
            transition(execution, S.RUNNING)
        outputs: dict[str, Any] = {}
        if outcome in (S.SUCCESS, S.WARNING) and flow.outputs:
            try:
                outputs = _flow_outputs(execution, flow)
            except templating.TemplateError as exc:
                log(execution, None, "ERROR", f"flow outputs: {exc}")
                outcome = S.FAILED
        if transition(execution, outcome, outputs=outputs):
            failures.run_after_execution(execution, _Walker)


def _flow_outputs(execution: Execution, flow: Flow) -> dict[str, Any]:
    context = template_context.build(execution, flow, execution.task_runs.all())
    return {out["id"]: templating.render(out.get("value"), context) for out in flow.outputs}


def task_succeeded(taskrun: TaskRun, outputs: dict[str, Any], *, attempt: int | None = None) -> None:
    """Record the outputs and schedule what follows, in one transaction (no gap a crash could strand).

    ``attempt`` (the claimed attempt number) fences off a late result: after a timeout the run may have
    been failed and retried, and the old attempt's outcome must not end the new one.
    """
    with transaction.atomic():
        state = retries.success_state(flow_for(taskrun.execution), taskrun)
        # The worker's own copy of the run it claimed: no re-read, the attempt fences off a late result.
        current = None if attempt is None else {"attempts": attempt}
        if transition(taskrun, state, outputs=outputs, expect=current, known=attempt is not None):
            advance(taskrun.execution_id)


def task_failed(
    taskrun: TaskRun,
    message: str,
    secrets: list[str] | None = None,
    *,
    retryable: bool = True,
    attempt: int | None = None,
) -> None:
    """Fail the run with ``message`` (stored masked, in ``error`` and as an ERROR log line).

    Under a ``retry`` policy a ``retryable`` failure schedules another attempt instead (retries.py);
    ``attempt`` fences off a late result, as in ``task_succeeded``.
    """
    execution = taskrun.execution
    if secrets is None:
        secrets = secret_values(execution, flow_for(execution))
    masked = masking.mask(message, secrets)
    with transaction.atomic():
        if attempt is not None and not failures.is_current_attempt(taskrun, attempt):
            return
        if retryable and retries.retry_failed(taskrun, masked):
            return
        if transition(taskrun, S.FAILED, error=masked):
            LogLine.objects.create(execution=execution, taskrun=taskrun, level="ERROR", message=masked)
            advance(taskrun.execution_id)


def redispatch_stale(*, older_than: timedelta) -> int:
    """Send again task runs created/queued longer than ``older_than`` ago but never claimed.

    Covers a dispatch lost between commit and broker (``on_commit`` is best effort). Safe to run any
    time: a duplicate message finds the run claimed and does nothing.
    """
    from .reconciler import redispatch_unclaimed  # the reconciler owns which runs are still wanted

    return redispatch_unclaimed(older_than=older_than) + retries.resume_due()


def _dispatch(taskrun_id: str) -> None:
    """Send the run to a worker: the current one when it takes the hand-off (handoff.py), else Celery."""
    if handoff.offer(taskrun_id):
        return
    from .worker import run_task  # the worker imports the engine

    run_task.delay(taskrun_id)


_flag = flowables.flag
_WALK_DEFERRED = ("history", "error", "worker", "worker_task_id", "heartbeat", "ended")
_INHERIT: Any = object()  # a child's iteration value: its parent's, unless a ForEach gives it one


class _Walker:
    """Re-walks the flow spec against the existing task runs, under the execution's row lock.

    Every method returns the state a task (list) has reached, or None while something in it is still
    pending; creating a missing run is how a task starts. Runs are keyed by (task id, parent run,
    iteration value). Flowables decide which children may start through ``orchestrator.flowables``
    (one walk function per type), using ``block``/``sequence``/``outcome``/``has_run``/``props`` here.
    """

    def __init__(self, execution: Execution, flow: Flow) -> None:
        self.execution = execution
        self.flow = flow
        # Every run is walked on every advance: leave out the columns only the UI and retries read.
        runs = execution.task_runs.defer(*_WALK_DEFERRED)
        self.runs: dict[tuple[str, Any, str | None], TaskRun] = {
            (run.task_id, run.parent_id, run.value): run for run in runs
        }

    @staticmethod
    def key(task: TaskSpec, parent: TaskRun | None, value: Any = _INHERIT) -> tuple[str, Any, str | None]:
        if value is _INHERIT:
            value = parent.value if parent is not None else None
        return (task.id, parent.pk if parent is not None else None, value)

    def has_run(self, parent: TaskRun | None, task: TaskSpec, value: Any = _INHERIT) -> bool:
        return self.key(task, parent, value) in self.runs

    def block(
        self, parent: TaskRun | None, tasks: list[TaskSpec], errors: list[TaskSpec], finally_: list[TaskSpec]
    ) -> State | None:
        """Kestra's block semantics: ``errors`` run after a failure, ``finally`` always; both keep FAILED."""
        return self.guarded(parent, self.sequence(parent, tasks), errors, finally_)

    def guarded(
        self, parent: TaskRun | None, result: State | None, errors: list[TaskSpec], finally_: list[TaskSpec]
    ) -> State | None:
        """``errors`` after a failing ``result``, then ``finally``; None while any of it is pending."""
        if result is None:
            return None
        if result in _FAILING and errors and self.sequence(parent, errors) is None:
            return None
        if finally_:
            after = self.sequence(parent, finally_)
            if after is None:
                return None
            result = max(result, after, key=_SEVERITY.__getitem__)
        return result

    def sequence(self, parent: TaskRun | None, tasks: list[TaskSpec], value: Any = _INHERIT) -> State | None:
        result = S.SUCCESS
        for task in tasks:
            if _flag(task, "disabled"):
                continue
            state = self.outcome(parent, task, value)
            if state is None:
                return None
            result = max(result, state, key=_SEVERITY.__getitem__)
            if state in _FAILING:
                return state
        return result

    def outcome(self, parent: TaskRun | None, task: TaskSpec, value: Any = _INHERIT) -> State | None:
        """The state ``task`` counts as for its siblings (allowFailure, allowWarning, skipped)."""
        state = self.task(parent, task, value)
        return None if state is None else flowables.counts_as(task, state)

    def task(self, parent: TaskRun | None, task: TaskSpec, value: Any = _INHERIT) -> State | None:
        task_type = registry.lookup(task.type)
        key = self.key(task, parent, value)
        run = self.runs.get(key)
        if run is None and "runIf" in task.common:
            run = failures.skip_unless(self, parent, task, key[2])  # created, then run or SKIPPED
        if run is None:
            run = self._create(parent, task, flowable=bool(task_type and task_type.flowable), value=key[2])
        if run.state in TERMINAL:
            return State(run.state)
        if task_type is None or not task_type.flowable:
            return None  # queued or running on a worker
        handler = FLOWABLE_HANDLERS.get(task_type.name)
        if handler is not None:
            return handler(self, parent, task, run)
        walk = flowables.walk_for(task_type.name)
        if walk is None:
            self._fail_flowable(run, f"flowable task type '{task.type}' is not supported by the engine yet")
            return S.FAILED
        if run.state == S.CREATED:
            transition(run, S.RUNNING)
        try:
            outcome = walk(self, run, task)
        except flowables.FlowableFailed as exc:
            self._fail_flowable(run, f"{task_type.short_name}: {exc}")
            return S.FAILED
        if outcome is None:
            return None
        transition(run, outcome)
        return outcome

    def props(self, run: TaskRun, task: TaskSpec) -> dict[str, Any]:
        """The flowable's own properties rendered in its run's context (a template error fails it)."""
        runs = self.runs.values()
        context = template_context.build(self.execution, self.flow, runs, taskrun=run, task=task)
        try:
            return templating.render(task.props, context)
        except templating.TemplateError as exc:
            raise flowables.FlowableFailed(f"cannot render properties: {exc}") from exc

    def set_outputs(self, run: TaskRun, outputs: dict[str, Any]) -> None:
        TaskRun.objects.filter(pk=run.pk).update(outputs=outputs)
        run.outputs = outputs

    def _create(
        self, parent: TaskRun | None, task: TaskSpec, *, flowable: bool, value: Any = _INHERIT
    ) -> TaskRun:
        key = self.key(task, parent, value)
        run = TaskRun.objects.create(
            execution=self.execution,
            task_id=task.id,
            parent=parent,
            value=key[2],
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        self.runs[key] = run
        _send(run, None, S.CREATED.value)
        if flowable:
            return run
        claim = handoff.reserve()
        if claim is not None and claim_for(run, claim):
            # This worker runs it next: claimed here, in the transaction that creates it (handoff.py).
            transaction.on_commit(lambda: handoff.taken(run), robust=True)
        else:
            run_id = str(run.pk)
            transaction.on_commit(lambda: _dispatch(run_id), robust=True)
        return run

    def _fail_flowable(self, run: TaskRun, message: str) -> None:
        if run.state == S.CREATED:
            transition(run, S.RUNNING)
        transition(run, S.FAILED, error=message)
        log(self.execution, run, "ERROR", message)


# Flowables with their own scheduling (Pause, Subflow, WaitFor: orchestrator/flowcontrol.py), by canonical
# type name: handler(walker, parent_run, task, run) -> the run's final state, or None while it is pending.
# Called under the execution's row lock on every advance, so a handler must be idempotent.
FlowableHandler = Callable[["_Walker", TaskRun | None, TaskSpec, TaskRun], "State | None"]
FLOWABLE_HANDLERS: dict[str, FlowableHandler] = {}


def running_states() -> models.Q:
    """Executions still in progress (for selectors)."""
    return ~models.Q(state__in=[s.value for s in TERMINAL])


# Pause, Subflow and WaitFor register their FLOWABLE_HANDLERS on import (it imports this module).
from . import flowcontrol  # noqa: E402,F401
