"""The walker: what runs next in an execution, and how an execution starts and ends.

``advance`` runs under the execution's row lock after every change: it walks the flow spec against the
task runs so far and creates (and, on commit, dispatches) whatever may run next, or ends the execution.
Each flowable's own rule lives in ``flowables`` (walk functions) or in a registered handler (Pause,
Subflow, WaitFor, ForEachItem: ``register_handler``, called from ``AppConfig.ready``). State changes go
through ``orchestrator.state.transitions``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator.executor import (
    concurrency,
    failures,
    flow_checks,
    flowables,
    handoff,
    listeners,
    retries,
    sla,
)
from orchestrator.flowmodel import masking, output_types, task_api, templating, worker_group
from orchestrator.flowmodel.spec import Flow, TaskSpec
from orchestrator.state import template_context
from orchestrator.state.flow_snapshots import flow_for, record_revision, remember
from orchestrator.state.logs import log, secret_values
from orchestrator.state.models import FAILING, SEVERITY, TERMINAL, Execution, LogLine, State, TaskRun
from orchestrator.state.transitions import announce, claim_for, transition

logger = logging.getLogger(__name__)

S = State

# --- starting and advancing ------------------------------------------------------------------------


class FlowDisabled(ValueError):
    """Kestra refuses to execute a flow marked ``disabled: true``; so do we."""


# A BLOCK_EXECUTION check failed (``flow_checks``): raised by ``start_execution``, caught by its callers.
ChecksBlocked = flow_checks.ChecksBlocked


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

    The flow's ``checks`` apply to an execution asked for directly (``flow_checks.applies_to``): a
    BLOCK_EXECUTION one raises ``flow_checks.ChecksBlocked`` and nothing is created; a FAIL_EXECUTION
    one creates the execution FAILED, with nothing run. MAX_DURATION SLAs start counting here.
    """
    if flow.disabled:
        raise FlowDisabled(f"flow {flow.namespace}.{flow.id} is disabled")
    checked, failed_checks = flow_checks.CREATE, []
    if flow.checks and flow_checks.applies_to(trigger, parent_taskrun):
        checked, failed_checks = flow_checks.verdict(flow, inputs)  # raises ChecksBlocked
    execution_id = execution_id if execution_id is not None else uuid.uuid4()
    # Kestra labels every execution with the id of the execution that began its chain (its own for a
    # root; a subflow's caller passes its own).
    labels = {**flow.labels, **(labels or {})}
    labels.setdefault("system.correlationId", str(execution_id))
    with transaction.atomic():
        record_revision(flow)  # Kestra's integer revision: a source started the first time is the next
        execution = Execution.objects.create(
            id=execution_id,
            namespace=flow.namespace,
            flow_id=flow.id,
            flow_revision=flow.revision,
            flow_source=flow.source,
            inputs=inputs,
            labels=labels,
            trigger=trigger,
            parent_id=parent_taskrun.execution_id if parent_taskrun else None,
            parent_taskrun=parent_taskrun,
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        remember(flow)
        announce(execution, None, S.CREATED.value)
        if checked == flow_checks.FAIL:
            _fail_by_checks(execution, failed_checks)
            return execution
        sla.arm(execution, flow)
        if concurrency.admit(execution, flow):
            advance(execution.pk)
    return execution


def _fail_by_checks(execution: Execution, failed: list[flow_checks.Failed]) -> None:
    """A FAIL_EXECUTION check failed: the execution is created FAILED (Kestra) and runs nothing but what
    runs after an end (``afterExecution``, listeners)."""
    messages = ", ".join(item.message for item in failed)
    log(execution, None, "WARN", f"{flow_checks.FAILED}\nFailed checks: {messages}")
    transition(execution, S.FAILED, reason="condition checks evaluated to false")
    advance(execution.pk)


def advance(execution_id: Any) -> None:
    """Create and dispatch the next task run(s), or end the execution when nothing is left to run."""
    with transaction.atomic(savepoint=False):  # no savepoint inside task_succeeded's transaction
        # The flow source is only read when this process has not parsed the revision yet.
        execution = Execution.objects.select_for_update().defer("flow_source").get(pk=execution_id)
        if execution.state not in TERMINAL and _broke_an_sla(execution):
            execution.refresh_from_db(fields=["state", "labels"])
        if execution.state in TERMINAL:
            _after_end(execution)
            return
        if execution.state in (S.PAUSED, S.QUEUED):  # a QUEUED one starts when concurrency frees a slot
            return
        # RETRYING stays as it is: a task run waits for its next attempt (retries.wake moves it on).
        if execution.state not in (S.RUNNING, S.RETRYING) and not transition(execution, S.RUNNING):
            return
        flow = flow_for(execution)
        walker = Walker(execution, flow)
        outcome = walker.block(None, flow.tasks, flow.errors, flow.finally_)
        if outcome is None:
            return
        if execution.state == S.RETRYING:
            transition(execution, S.RUNNING)
        outputs: dict[str, Any] = {}
        if outcome in (S.SUCCESS, S.WARNING) and flow.outputs:
            try:
                outputs = _flow_outputs(execution, flow)
            except (templating.TemplateError, output_types.OutputInvalid) as exc:
                log(execution, None, "ERROR", f"Failed to render output values: {exc}")
                outcome = S.FAILED
        if transition(execution, outcome, outputs=outputs):
            _after_end(execution)


def _broke_an_sla(execution: Execution) -> bool:
    """Kestra evaluates EXECUTION_ASSERTION SLAs on every change of a live execution, before moving it
    on; a MAX_DURATION past its deadline is applied here too. True when one just ended it."""
    flow = flow_for(execution)
    if not flow.sla:
        return False
    for find in (sla.assertion_violation, sla.due_violation):
        violation = find(execution, flow)
        if violation is not None and sla.apply(execution, flow, violation):
            return True
    return False


def _after_end(execution: Execution) -> None:
    """What runs once the execution has ended, without changing its state: ``afterExecution`` and the
    tasks of the matching ``listeners``, side by side."""
    failures.run_after_execution(execution, Walker)
    listeners.run(execution, Walker)


def _flow_outputs(execution: Execution, flow: Flow) -> dict[str, Any]:
    """Rendered, then converted by each output's ``type`` (Kestra's typedOutputs)."""
    context = template_context.build(execution, flow, execution.task_runs.all())
    return {
        out["id"]: output_types.typed(out, templating.render(out.get("value"), context))
        for out in flow.outputs
    }


def task_succeeded(
    taskrun: TaskRun, outputs: dict[str, Any], *, attempt: int | None = None, warning: str | None = None
) -> None:
    """Record the outputs and schedule what follows, in one transaction (no gap a crash could strand).

    ``attempt`` (the claimed attempt number) fences off a late result: after a timeout the run may have
    been failed and retried, and the old attempt's outcome must not end the new one. ``warning``: why
    the task asked to end WARNING (``RunContext.warn``), logged with it.
    """
    with transaction.atomic():
        state = retries.success_state(flow_for(taskrun.execution), taskrun, warned=bool(warning))
        if warning:
            log(taskrun.execution, taskrun, "WARN", warning)
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
    masked = masking.mask(message, secrets, per_character=True)  # logged, as Kestra masks log lines
    with transaction.atomic():
        if attempt is not None and not failures.is_current_attempt(taskrun, attempt):
            return
        if retryable and retries.retry_failed(taskrun, masked):
            return
        if transition(taskrun, S.FAILED, error=masked):
            LogLine.objects.create(execution=execution, taskrun=taskrun, level="ERROR", message=masked)
            advance(taskrun.execution_id)


_flag = flowables.flag
_WALK_DEFERRED = ("history", "error", "worker", "worker_task_id", "heartbeat", "ended")
_INHERIT: Any = object()  # a child's iteration value: its parent's, unless a ForEach gives it one


class Walker:
    """Re-walks the flow spec against the existing task runs, under the execution's row lock.

    Every method returns the state a task (list) has reached, or None while something in it is still
    pending; creating a missing run is how a task starts. Runs are keyed by (task id, parent run,
    iteration value). Flowables decide which children may start through ``orchestrator.executor.flowables``
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
        if result in FAILING and errors and self.sequence(parent, errors) is None:
            return None
        if finally_:
            after = self.sequence(parent, finally_)
            if after is None:
                return None
            result = max(result, after, key=SEVERITY.__getitem__)
        return result

    def sequence(self, parent: TaskRun | None, tasks: list[TaskSpec], value: Any = _INHERIT) -> State | None:
        result = S.SUCCESS
        for task in tasks:
            if _flag(task, "disabled"):
                continue
            state = self.outcome(parent, task, value)
            if state is None:
                return None
            result = max(result, state, key=SEVERITY.__getitem__)
            if state in FAILING:
                return state
        return result

    def outcome(self, parent: TaskRun | None, task: TaskSpec, value: Any = _INHERIT) -> State | None:
        """The state ``task`` counts as for its siblings (allowFailure, allowWarning, skipped)."""
        state = self.task(parent, task, value)
        return None if state is None else flowables.counts_as(task, state)

    def task(self, parent: TaskRun | None, task: TaskSpec, value: Any = _INHERIT) -> State | None:
        task_type = task_api.lookup(task.type)
        key = self.key(task, parent, value)
        run = self.runs.get(key)
        if run is None and "runIf" in task.common:
            run = failures.skip_unless(self, parent, task, key[2])  # created, then run or SKIPPED
        if run is None:
            run = self.create_run(parent, task, flowable=bool(task_type and task_type.flowable), value=key[2])
        if run.state in TERMINAL:
            return State(run.state)
        if task_type is None or not task_type.flowable:
            return None  # queued or running on a worker
        handler = FLOWABLE_HANDLERS.get(task_type.name)
        if handler is not None:
            return handler(self, parent, task, run)
        walk = flowables.walk_for(task_type.name)
        if walk is None:
            self.fail_flowable(run, f"flowable task type '{task.type}' is not supported by the engine yet")
            return S.FAILED
        if run.state == S.CREATED:
            transition(run, S.RUNNING)
        try:
            outcome = walk(self, run, task)
        except flowables.FlowableFailed as exc:
            self.fail_flowable(run, f"{task_type.short_name}: {exc}")
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

    def create_run(
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
        announce(run, None, S.CREATED.value)
        if flowable:
            return run
        group = worker_group.of_task(self.flow, task)  # the workers that may run it (handoff.py)
        claim = handoff.reserve(group)
        if claim is not None and claim_for(run, claim):
            # This worker runs it next: claimed here, in the transaction that creates it (handoff.py).
            transaction.on_commit(lambda: handoff.taken(run), robust=True)
        else:
            run_id = str(run.pk)
            transaction.on_commit(lambda: handoff.dispatch(run_id, group), robust=True)
        return run

    def fail_flowable(self, run: TaskRun, message: str) -> None:
        if run.state == S.CREATED:
            transition(run, S.RUNNING)
        transition(run, S.FAILED, error=message)
        log(self.execution, run, "ERROR", message)


# Flowables with their own scheduling (Pause, Subflow, WaitFor: ``waiting``; ForEachItem), by canonical
# type name: handler(walker, parent_run, task, run) -> the run's final state, or None while it is pending.
# Called under the execution's row lock on every advance, so a handler must be idempotent.
FlowableHandler = Callable[[Walker, TaskRun | None, TaskSpec, TaskRun], State | None]
FLOWABLE_HANDLERS: dict[str, FlowableHandler] = {}


def register_handler(type_name: str, handler: FlowableHandler) -> None:
    """Give the flowable ``type_name`` its own scheduling (called from ``AppConfig.ready``)."""
    FLOWABLE_HANDLERS[type_name] = handler
