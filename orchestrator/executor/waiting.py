"""Flowables that wait without holding a worker: Pause, Subflow and LoopUntil (WaitFor).

Each is an engine flowable handler (``walker.FLOWABLE_HANDLERS``): it runs under the execution's row lock
on every ``advance`` and must be idempotent. Waiting is a state in the database plus, when there is a
deadline, ``TaskRun.wake_at`` and a countdown Celery message (``orchestrator.wake_taskrun``); a periodic
``wake_due`` sweep catches a lost message. A Subflow's child wakes its parent when it ends (signal).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import walker
from orchestrator.flowmodel import flow_repository, input_types, spec, templating
from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.labels import label_map
from orchestrator.flowmodel.templating import is_truthy
from orchestrator.state import flow_snapshots, logs, template_context, transitions
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun
from orchestrator.state.signals import execution_state_changed

logger = logging.getLogger(__name__)
S = State

PAUSE = "io.kestra.plugin.core.flow.Pause"
SUBFLOW = "io.kestra.plugin.core.flow.Subflow"
LOOP_UNTIL = "io.kestra.plugin.core.flow.LoopUntil"  # also WaitFor, its name before Kestra 0.23
RESUMED_WARN = "pauseDuration elapsed (WARN)"


class HandlerFailure(Exception):
    """A flowable cannot go on (bad property, unknown flow): its run ends FAILED with this message."""


def render_value(walker: Any, task: spec.TaskSpec, run: TaskRun, value: Any) -> Any:
    runs = list(walker.runs.values())
    context = template_context.build(walker.execution, walker.flow, runs, taskrun=run, task=task)
    try:
        return templating.render(value, context)
    except templating.TemplateError as exc:
        raise HandlerFailure(f"cannot render properties: {exc}") from exc


def _duration(value: Any, name: str) -> timedelta | None:
    if value in (None, ""):
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise HandlerFailure(f"{name}: {exc}") from exc


def _schedule_wake(run: TaskRun, at: Any) -> None:
    run_id = str(run.pk)
    delay = max(0.0, (at - timezone.now()).total_seconds())
    transaction.on_commit(lambda: wake_taskrun.apply_async((run_id,), countdown=delay), robust=True)


def fail_run(walker: Any, run: TaskRun, message: str) -> State:
    walker.fail_flowable(run, message)
    return S.FAILED


def start_run(run: TaskRun) -> None:
    if run.state == S.CREATED:
        transitions.transition(run, S.RUNNING)


# --- Pause -------------------------------------------------------------------------------------------


def pause_plan(walker: Any, task: spec.TaskSpec, run: TaskRun) -> tuple[timedelta | None, str]:
    """(how long until the pause ends by itself or None, then what: RESUME/WARN/FAIL/CANCEL/TIMEOUT)."""
    keys = ("pauseDuration", "delay", "behavior")
    props = render_value(walker, task, run, {k: task.props.get(k) for k in keys})
    duration = _duration(props.get("pauseDuration") or props.get("delay"), "pauseDuration")
    if duration is not None:
        return duration, str(props.get("behavior") or "RESUME").upper()
    timeout = _duration(render_value(walker, task, run, task.common.get("timeout")), "timeout")
    return timeout, "TIMEOUT"


def _was_paused(run: TaskRun) -> bool:
    return any(entry.get("state") == S.PAUSED for entry in run.history)


def handle_pause(walker: Any, parent: TaskRun | None, task: spec.TaskSpec, run: TaskRun) -> State | None:
    start_run(run)
    if run.state == S.PAUSED:
        return None
    if not _was_paused(run):
        try:
            wait, _ = pause_plan(walker, task, run)
        except HandlerFailure as exc:
            return fail_run(walker, run, str(exc))
        wake = timezone.now() + wait if wait is not None else None
        reason = f"waiting {format_duration(wait)}" if wait is not None else "waiting for a manual resume"
        transitions.transition(run, S.PAUSED, wake_at=wake, reason=reason)
        transitions.transition(walker.execution, S.PAUSED, reason=f"paused by task '{task.id}'")
        if wake is not None:
            _schedule_wake(run, wake)
        return None
    branch = task.branches.get
    outcome = walker.block(run, branch("tasks", []), branch("errors", []), branch("finally", []))
    if outcome is None:
        return None
    if outcome == S.SUCCESS and any(entry.get("reason") == RESUMED_WARN for entry in run.history):
        outcome = S.WARNING
    transitions.transition(run, outcome)
    return outcome


def on_resume_specs(flow: spec.Flow, task_id: str) -> list[spec.InputSpec]:
    """The Pause task's ``onResume`` input declarations (the resume form)."""
    task = flow.find_task(task_id)
    items = (task.props.get("onResume") if task else None) or []
    return spec.parse_inputs(items, path=f"{task.path if task else task_id}.onResume")


def resolve_on_resume(flow: spec.Flow, task_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate resume values like flow inputs; raises ``inputs.InputsInvalid`` with per-input messages."""
    specs = on_resume_specs(flow, task_id)
    return input_types.resolve_inputs(SimpleNamespace(inputs=specs), raw)  # type: ignore[arg-type]


def _expire_pause(execution: Execution, run: TaskRun) -> None:
    flow = flow_snapshots.flow_for(execution)
    task = flow.find_task(run.task_id)
    walk = walker.Walker(execution, flow)
    try:
        _, behavior = pause_plan(walk, task, run) if task else (None, "TIMEOUT")
    except HandlerFailure:
        behavior = "FAIL"
    if behavior in ("RESUME", "WARN"):
        try:
            values = resolve_on_resume(flow, run.task_id, {})
        except (input_types.InputsInvalid, spec.FlowValidationError):
            values = {}
        reason = RESUMED_WARN if behavior == "WARN" else "pauseDuration elapsed"
        transitions.transition(run, S.RUNNING, outputs={"onResume": values}, wake_at=None, reason=reason)
    elif behavior == "CANCEL":
        transitions.transition(run, S.CANCELLED, wake_at=None, reason="pauseDuration elapsed (CANCEL)")
        transitions.transition(execution, S.CANCELLED, reason=f"pause '{run.task_id}' ended with CANCEL")
        return
    else:
        message = (
            f"paused longer than its timeout; task '{run.task_id}' failed"
            if behavior == "TIMEOUT"
            else f"pauseDuration elapsed; task '{run.task_id}' failed (behavior FAIL)"
        )
        if transitions.transition(run, S.FAILED, wake_at=None, error=message):
            logs.log(execution, run, "ERROR", message)
    if not execution.task_runs.filter(state=S.PAUSED).exists():
        transitions.transition(execution, S.RUNNING, reason="pause ended")
        walker.advance(execution.pk)


# --- Subflow -----------------------------------------------------------------------------------------


def child_flow_of(namespace: str, flow_id: str, revision: Any) -> spec.Flow:
    """The flow a Subflow or ForEachItem starts: its current definition, or revision ``revision``."""
    if revision in (None, ""):
        try:
            return flow_repository.find(namespace, flow_id)
        except flow_repository.FlowNotFound as exc:
            raise HandlerFailure(str(exc)) from exc
    try:
        number = int(str(revision))
    except ValueError:
        number = 0
    if number < 1:
        raise HandlerFailure(f"revision must be an integer from 1, got {revision!r}")
    try:
        return flow_snapshots.flow_at_revision(namespace, flow_id, number)
    except flow_snapshots.RevisionNotFound as exc:
        raise HandlerFailure(str(exc)) from exc
    except spec.FlowValidationError as exc:
        raise HandlerFailure(f"revision {number} of {namespace}.{flow_id} no longer loads: {exc}") from exc


def _start_child(walk: Any, task: spec.TaskSpec, run: TaskRun) -> Execution:
    props = render_value(walk, task, run, {k: v for k, v in task.props.items() if k != "outputs"})
    namespace, flow_id = props.get("namespace"), props.get("flowId")
    child_flow = child_flow_of(str(namespace), str(flow_id), props.get("revision"))
    try:
        child_inputs = input_types.resolve_inputs(child_flow, props.get("inputs") or {})
    except input_types.InputsInvalid as exc:
        problems = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        raise HandlerFailure(f"invalid inputs for {namespace}.{flow_id}: {problems}") from exc
    parent = walk.execution
    labels: dict[str, Any] = dict(parent.labels) if props.get("inheritLabels") else {}
    labels.update(label_map(props.get("labels")))
    labels["system.correlationId"] = parent.labels.get("system.correlationId", str(parent.pk))
    trigger = {
        "type": SUBFLOW,
        "executionId": str(parent.pk),
        "namespace": parent.namespace,
        "flowId": parent.flow_id,
        "flowRevision": flow_snapshots.revision_number(parent),
        "taskRunId": str(run.pk),
    }
    try:
        return walker.start_execution(
            child_flow, child_inputs, labels=labels, trigger=trigger, parent_taskrun=run
        )
    except walker.FlowDisabled as exc:
        raise HandlerFailure(str(exc)) from exc


def _child_result(task: spec.TaskSpec, child: Execution) -> tuple[State, dict[str, Any], str]:
    """The Subflow run's state, outputs and error once its child ended, as Kestra decides them.

    ``outputs`` are the child flow's own declared outputs; a child flow that declares none gets the
    task's (deprecated) ``outputs`` rendered against the child execution, whatever state it ended in: a
    failed child's error handlers leave outputs too. An output that cannot render fails the run.
    Without ``transmitFailed`` the run succeeds whatever the child's state (Kestra's ``guessState``).
    """
    outputs: dict[str, Any] = {"executionId": str(child.pk), "state": child.state, "outputs": child.outputs}
    child_flow = flow_snapshots.flow_for(child)
    wanted = task.props.get("outputs")
    if wanted and not child_flow.outputs:
        context = template_context.build(child, child_flow, child.task_runs.all())
        try:
            outputs["outputs"] = templating.render(wanted, context)
        except templating.TemplateError as exc:
            return S.FAILED, outputs, f"cannot render the subflow outputs: {exc}"
    transmit = task.props.get("transmitFailed", True) not in (False, "false")
    if child.state == S.SUCCESS or not transmit:
        return S.SUCCESS, outputs, ""
    if child.state == S.WARNING:
        return S.WARNING, outputs, ""
    return S.FAILED, outputs, f"subflow execution {child.pk} ended {child.state}"


def handle_subflow(walker: Any, parent: TaskRun | None, task: spec.TaskSpec, run: TaskRun) -> State | None:
    start_run(run)
    child_id = (run.outputs or {}).get("executionId")
    if not child_id:
        try:
            child = _start_child(walker, task, run)
        except HandlerFailure as exc:
            return fail_run(walker, run, str(exc))
        run.outputs = {"executionId": str(child.pk)}
        TaskRun.objects.filter(pk=run.pk).update(outputs=run.outputs)  # not a state change
        if task.props.get("wait", True) in (False, "false"):
            transitions.transition(run, S.SUCCESS, outputs=run.outputs)
            return S.SUCCESS
        child_id = child.pk
    child = Execution.objects.filter(pk=child_id).first()
    if child is None:
        return fail_run(walker, run, f"subflow execution {child_id} disappeared")
    if child.state not in TERMINAL:
        return None
    state, outputs, error = _child_result(task, child)
    if transitions.transition(run, state, outputs=outputs, error=error) and error:
        logs.log(walker.execution, run, "ERROR", error)
    return state


def _wake_parent(sender: Any, execution: Execution, old: str | None, new: str, **_: Any) -> None:
    """A child execution ended: let its parent's Subflow task see it (after the child's commit)."""
    parent_id = execution.parent_id
    if parent_id is None or State(new) not in TERMINAL:
        return
    transaction.on_commit(lambda: walker.advance(parent_id), robust=True)


# --- LoopUntil (WaitFor) -----------------------------------------------------------------------------


def _loop_limits(
    walker: Any, task: spec.TaskSpec, run: TaskRun
) -> tuple[timedelta, int | None, timedelta | None]:
    """``checkFrequency``'s (interval, maxIterations, maxDuration) with Kestra 0.23's defaults:
    PT1M, no cap, no cap (https://kestra.io/docs/migration-guide/0.23.0/loop-until-defaults)."""
    frequency = render_value(walker, task, run, task.props.get("checkFrequency") or {})
    interval = _duration(frequency.get("interval"), "checkFrequency.interval")
    max_iterations = frequency.get("maxIterations")
    return (
        timedelta(minutes=1) if interval is None else interval,
        None if max_iterations in (None, "") else int(max_iterations),
        _duration(frequency.get("maxDuration"), "checkFrequency.maxDuration"),
    )


def handle_loop_until(walker: Any, parent: TaskRun | None, task: spec.TaskSpec, run: TaskRun) -> State | None:
    """Kestra's LoopUntil (``io.kestra.plugin.core.flow.LoopUntil``, formerly WaitFor): run ``tasks``,
    then evaluate ``condition``; stop once it is true, else run them again after ``interval``.

    When ``maxIterations`` or ``maxDuration`` is reached first the loop stops with a WARN log, in
    FAILED if ``failOnMaxReached``, else in the state of its last iteration. A failed iteration ends
    the loop (through ``errors``). ``outputs.<id>.iterationCount`` is the current iteration, from 1.
    """
    if run.state == S.CREATED:
        transitions.transition(run, S.RUNNING, outputs={"iterationCount": 1}, wake_at=timezone.now())
    while True:
        if run.wake_at is not None and run.wake_at > timezone.now():
            return None  # waiting for the next iteration
        # Runs of earlier iterations stay in the history; this iteration's are those created since wake_at.
        for key in [k for k, r in walker.runs.items() if r.parent_id == run.pk and r.created < run.wake_at]:
            del walker.runs[key]
        branch = task.branches.get
        outcome = walker.block(run, branch("tasks", []), branch("errors", []), [])
        if outcome is None:
            return None
        count = int((run.outputs or {}).get("iterationCount", 1))
        try:
            interval, max_iterations, max_duration = _loop_limits(walker, task, run)
            again = outcome in (S.SUCCESS, S.WARNING) and not is_truthy(
                render_value(walker, task, run, task.props.get("condition"))
            )
        except (HandlerFailure, ValueError, TypeError) as exc:
            return fail_run(walker, run, str(exc))
        started = run.started or run.created
        reached = ""
        if max_iterations is not None and count >= max_iterations:
            reached = "Max iterations reached"
        elif max_duration is not None and started + max_duration < timezone.now():
            reached = "Max duration reached"
        if again and not reached:
            wake = timezone.now() + interval
            run.outputs, run.wake_at = {"iterationCount": count + 1}, wake
            TaskRun.objects.filter(pk=run.pk).update(outputs=run.outputs, wake_at=wake)  # not a state change
            if interval.total_seconds() > 0:
                _schedule_wake(run, wake)
                return None
            continue
        if again:
            logs.log(walker.execution, run, "WARN", reached)
            if spec.flag_set(task.props.get("failOnMaxReached")):
                return fail_run(walker, run, f"{reached} (failOnMaxReached)")
        transitions.transition(run, outcome, wake_at=None)
        return outcome


# --- timers ------------------------------------------------------------------------------------------


@shared_task(name="orchestrator.wake_taskrun")
def wake_taskrun(taskrun_id: str) -> None:
    wake(taskrun_id)


def wake(taskrun_id: str) -> bool:
    """A waiting run's deadline passed: end the pause (per its behavior) or run WaitFor's next check.

    Idempotent: a second message, or one for a run that was resumed or killed meanwhile, does nothing.
    """
    execution_id = TaskRun.objects.filter(pk=taskrun_id).values_list("execution_id", flat=True).first()
    if execution_id is None:
        return False
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        run = TaskRun.objects.get(pk=taskrun_id)
        if run.wake_at is None:
            return False
        left = (run.wake_at - timezone.now()).total_seconds()
        if left > 0:
            if run.state in (S.PAUSED, S.RUNNING):
                transaction.on_commit(
                    lambda: wake_taskrun.apply_async((taskrun_id,), countdown=left), robust=True
                )
            return False
        if run.state == S.PAUSED:
            if execution.state in (S.PAUSED, S.RUNNING):
                _expire_pause(execution, run)
                return True
            return False
    if run.state == S.RUNNING:
        walker.advance(execution_id)
        return True
    return False


def wake_due(*, grace: timedelta = timedelta(seconds=5)) -> int:
    """Periodic safety net for lost wake-ups (a timer message or an on-commit wake lost in a crash).

    Wakes paused runs whose deadline passed, WaitFor runs whose next check is overdue, and parents
    whose Subflow child already ended. Everything it calls is idempotent.
    """
    now = timezone.now()
    woken = 0
    paused = TaskRun.objects.filter(state=S.PAUSED, wake_at__lte=now).values_list("pk", flat=True)
    woken += sum(1 for run_id in list(paused) if wake(str(run_id)))
    stuck = set(
        TaskRun.objects.filter(state=S.RUNNING, wake_at__lte=now - grace, execution__state=S.RUNNING)
        .exclude(worker_task_id__gt="")
        .values_list("execution_id", flat=True)
    )
    stuck |= set(
        Execution.objects.filter(
            state__in=[s.value for s in TERMINAL],
            ended__lte=now - grace,
            parent__state=S.RUNNING,
            parent_taskrun__state=S.RUNNING,
        ).values_list("parent_id", flat=True)
    )
    for execution_id in stuck:
        walker.advance(execution_id)
        woken += 1
    return woken


@shared_task(name="orchestrator.wake_due")
def wake_due_task() -> int:
    return wake_due()


# Registered with the walker in ``AppConfig.ready``.
HANDLERS = {PAUSE: handle_pause, SUBFLOW: handle_subflow, LOOP_UNTIL: handle_loop_until}


def connect_receivers() -> None:
    """A child execution that ends wakes its Subflow parent (``AppConfig.ready``)."""
    execution_state_changed.connect(
        _wake_parent, sender=Execution, dispatch_uid="orchestrator.executor.waiting.wake_parent"
    )
