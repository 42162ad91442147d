"""The execution state machine.

Every state change goes through ``transition``: it locks the row, checks Kestra's FROM→TO table, writes
with a compare-and-set on the state it read, and sends the signal in the same transaction. ``advance``
is the scheduler: under the execution's row lock it walks the flow spec against the task runs so far
and creates (and, on commit, dispatches) whatever may run next, or ends the execution.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from . import context as template_context
from . import inputs as flow_inputs
from . import masking, registry, templating
from .models import TERMINAL, Execution, LogLine, State, TaskRun
from .signals import execution_state_changed, taskrun_state_changed
from .spec import Flow, TaskSpec, parse_flow

logger = logging.getLogger(__name__)

S = State
ALLOWED: dict[State, frozenset[State]] = {
    S.CREATED: frozenset({S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.QUEUED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED}),
    S.RUNNING: frozenset({S.PAUSED, S.SUCCESS, S.WARNING, S.FAILED, S.RETRYING, S.KILLING, S.KILLED}),
    S.PAUSED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.RETRYING: frozenset({S.QUEUED, S.RUNNING, S.RETRIED, S.FAILED, S.KILLING, S.KILLED}),
    S.RESTARTED: frozenset({S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED}),
    S.KILLING: frozenset({S.KILLED, S.FAILED}),
    # Terminal states only leave through a restart.
    S.FAILED: frozenset({S.RESTARTED}),
    S.WARNING: frozenset({S.RESTARTED}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.SUCCESS: frozenset(),
    S.CANCELLED: frozenset(),
    S.RETRIED: frozenset(),
}

_SEVERITY = {S.SUCCESS: 0, S.WARNING: 1, S.FAILED: 2, S.CANCELLED: 3, S.KILLED: 4}
_FAILING = frozenset({S.FAILED, S.KILLED, S.CANCELLED})


def is_allowed(old: str, new: str) -> bool:
    return State(new) in ALLOWED[State(old)]


def transition(obj: Execution | TaskRun, to: State | str, *, reason: str = "", **fields: Any) -> bool:
    """Move ``obj`` to ``to`` if Kestra's state graph allows it; False (and no write) otherwise.

    Extra ``fields`` are written in the same UPDATE (e.g. ``outputs``, ``attempts=F(...)+1``). The UPDATE
    filters on the state read under the row lock: a compare-and-set that also holds on SQLite, where
    SELECT FOR UPDATE is a no-op, so two workers can never both claim or finish the same row.
    """
    to = State(to)
    model = type(obj)
    with transaction.atomic():
        locked = model.objects.select_for_update().filter(pk=obj.pk)
        row = locked.values("state", "history", "started").first()
        if row is None:
            return False
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
        if model.objects.filter(pk=obj.pk, state=old).update(**values) != 1:
            return False
        expressions = [k for k, v in values.items() if hasattr(v, "resolve_expression")]
        for key, value in values.items():
            if key not in expressions:
                setattr(obj, key, value)
        if expressions:
            obj.refresh_from_db(fields=expressions)
        _send(obj, old.value, to.value)
    return True


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
    flow: Flow, inputs: dict[str, Any], *, labels: dict[str, Any] | None = None, trigger: dict | None = None
) -> Execution:
    """Create an execution of ``flow`` with resolved ``inputs``; its first task is dispatched on commit.

    Call it inside the caller's transaction (e.g. with the request's approval): nothing reaches the
    broker unless that transaction commits.
    """
    if flow.disabled:
        raise FlowDisabled(f"flow {flow.namespace}.{flow.id} is disabled")
    with transaction.atomic():
        execution = Execution.objects.create(
            namespace=flow.namespace,
            flow_id=flow.id,
            flow_revision=flow.revision,
            flow_source=flow.source,
            inputs=inputs,
            labels={**flow.labels, **(labels or {})},
            trigger=trigger,
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        _remember(flow)
        _send(execution, None, S.CREATED.value)
        advance(execution.pk)
    return execution


def advance(execution_id: Any) -> None:
    """Create and dispatch the next task run(s), or end the execution when nothing is left to run."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        if execution.state in TERMINAL or execution.state == S.PAUSED:
            return
        if execution.state != S.RUNNING and not transition(execution, S.RUNNING):
            return
        flow = flow_for(execution)
        walker = _Walker(execution, flow)
        outcome = walker.block(None, flow.tasks, flow.errors, flow.finally_)
        if outcome is None:
            return
        outputs: dict[str, Any] = {}
        if outcome in (S.SUCCESS, S.WARNING) and flow.outputs:
            try:
                outputs = _flow_outputs(execution, flow)
            except templating.TemplateError as exc:
                log(execution, None, "ERROR", f"flow outputs: {exc}")
                outcome = S.FAILED
        transition(execution, outcome, outputs=outputs)


def _flow_outputs(execution: Execution, flow: Flow) -> dict[str, Any]:
    context = template_context.build(execution, flow, execution.task_runs.all())
    return {out["id"]: templating.render(out.get("value"), context) for out in flow.outputs}


def task_succeeded(taskrun: TaskRun, outputs: dict[str, Any]) -> None:
    """Record the outputs and schedule what follows, in one transaction (no gap a crash could strand)."""
    with transaction.atomic():
        if transition(taskrun, S.SUCCESS, outputs=outputs):
            advance(taskrun.execution_id)


def task_failed(taskrun: TaskRun, message: str, secrets: list[str] | None = None) -> None:
    """Fail the run with ``message`` (stored masked, in ``error`` and as an ERROR log line)."""
    execution = taskrun.execution
    if secrets is None:
        secrets = secret_values(execution, flow_for(execution))
    masked = masking.mask(message, secrets)
    with transaction.atomic():
        if transition(taskrun, S.FAILED, error=masked):
            LogLine.objects.create(execution=execution, taskrun=taskrun, level="ERROR", message=masked)
            advance(taskrun.execution_id)


def redispatch_stale(*, older_than: timedelta) -> int:
    """Send again task runs created/queued longer than ``older_than`` ago but never claimed.

    Covers a dispatch lost between commit and broker (``on_commit`` is best effort). Safe to run any
    time: a duplicate message finds the run claimed and does nothing.
    """
    cutoff = timezone.now() - older_than
    stale = TaskRun.objects.filter(
        state__in=[S.CREATED, S.QUEUED], created__lt=cutoff, execution__state=S.RUNNING
    ).values_list("pk", flat=True)
    count = 0
    for taskrun_id in stale:
        _dispatch(str(taskrun_id))
        count += 1
    return count


def _dispatch(taskrun_id: str) -> None:
    from .worker import run_task  # the worker imports the engine

    run_task.delay(taskrun_id)


def _flag(task: TaskSpec, key: str) -> bool:
    value = task.common.get(key, False)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class _Walker:
    """Walks (sequential) task lists against the existing runs; returns None while something is pending."""

    def __init__(self, execution: Execution, flow: Flow) -> None:
        self.execution = execution
        self.flow = flow
        self.runs: dict[tuple[str, Any], TaskRun] = {
            (run.task_id, run.parent_id): run for run in execution.task_runs.all()
        }

    def block(
        self, parent: TaskRun | None, tasks: list[TaskSpec], errors: list[TaskSpec], finally_: list[TaskSpec]
    ) -> State | None:
        """Kestra's block semantics: ``errors`` run after a failure, ``finally`` always; both keep FAILED."""
        result = self.sequence(parent, tasks)
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

    def sequence(self, parent: TaskRun | None, tasks: list[TaskSpec]) -> State | None:
        result = S.SUCCESS
        for task in tasks:
            if _flag(task, "disabled"):
                continue
            state = self.task(parent, task)
            if state is None:
                return None
            if state == S.FAILED and _flag(task, "allowFailure"):
                state = S.WARNING
            result = max(result, state, key=_SEVERITY.__getitem__)
            if state in _FAILING:
                return state
        return result

    def task(self, parent: TaskRun | None, task: TaskSpec) -> State | None:
        task_type = registry.lookup(task.type)
        run = self.runs.get((task.id, parent.pk if parent else None))
        if run is None:
            run = self._create(parent, task, flowable=bool(task_type and task_type.flowable))
        if run.state in TERMINAL:
            return State(run.state)
        if task_type is None or not task_type.flowable:
            return None  # queued or running on a worker
        if task_type.short_name not in _SEQUENTIAL_FLOWABLES:
            self._fail_flowable(run, f"flowable task type '{task.type}' is not supported by the engine yet")
            return S.FAILED
        if run.state == S.CREATED:
            transition(run, S.RUNNING)
        branch = task.branches.get
        outcome = self.block(run, branch("tasks", []), branch("errors", []), branch("finally", []))
        if outcome is None:
            return None
        transition(run, outcome)
        return outcome

    def _create(self, parent: TaskRun | None, task: TaskSpec, *, flowable: bool) -> TaskRun:
        run = TaskRun.objects.create(
            execution=self.execution,
            task_id=task.id,
            parent=parent,
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        self.runs[(task.id, parent.pk if parent else None)] = run
        _send(run, None, S.CREATED.value)
        if not flowable:
            run_id = str(run.pk)
            transaction.on_commit(lambda: _dispatch(run_id), robust=True)
        return run

    def _fail_flowable(self, run: TaskRun, message: str) -> None:
        if run.state == S.CREATED:
            transition(run, S.RUNNING)
        transition(run, S.FAILED, error=message)
        log(self.execution, run, "ERROR", message)


# Flowables whose children simply run one after another (Kestra's Sequential; more arrive with issue 4).
_SEQUENTIAL_FLOWABLES = frozenset({"Sequential"})


def running_states() -> models.Q:
    """Executions still in progress (for selectors)."""
    return ~models.Q(state__in=[s.value for s in TERMINAL])
