"""Operator actions on executions: resume, kill, restart and replay (pausing is the Pause task's job).

The UI, the CLI, the API and tests call these. Each locks the execution row and changes states only
through ``transitions.transition``, so two people clicking at once, or a click racing the worker, leave one
consistent result. Each returns whether it changed anything (False: already done, or not applicable),
raising ``ControlError`` only for a request that makes no sense (unknown execution or task).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app, shared_task
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import concurrency, handoff, waiting, walker
from orchestrator.flowmodel import task_api
from orchestrator.state import flow_snapshots, logs, template_context, transitions
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun

logger = logging.getLogger(__name__)
S = State

# How long a killed task may take to notice (cooperative sleep polls every 0.25 s) before its run is
# declared KILLED anyway (a prefork worker's process is also terminated by the revoke).
KILL_GRACE_SECONDS = 5.0


class ControlError(ValueError):
    """The action cannot apply (unknown execution, unknown task)."""


class TaskKilled(Exception):
    """Raised inside a running task (by ``ctx.sleep``) once its run is being killed."""


def _who(acting_user: Any) -> str:
    if acting_user is None:
        return ""
    name = acting_user.get_username() if hasattr(acting_user, "get_username") else str(acting_user)
    return f" by {name}"


def _locked(execution_id: Any) -> Execution:
    execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
    if execution is None:
        raise ControlError(f"execution '{execution_id}' not found")
    return execution


# --- resume ------------------------------------------------------------------------------------------


def resume(execution_id: Any, *, inputs: dict[str, Any] | None = None, acting_user: Any = None) -> bool:
    """PAUSED → RUNNING. ``inputs`` are validated against the Pause task's ``onResume`` declarations
    (``inputs.InputsInvalid`` lists every bad value, nothing changes) and become its ``onResume`` output."""

    with transaction.atomic():
        execution = _locked(execution_id)
        if execution.state != S.PAUSED:
            return False
        flow = flow_snapshots.flow_for(execution)
        paused = list(execution.task_runs.filter(state=S.PAUSED))
        values = {run.pk: waiting.resolve_on_resume(flow, run.task_id, dict(inputs or {})) for run in paused}
        reason = f"resumed{_who(acting_user)}"
        if not transitions.transition(execution, S.RUNNING, reason=reason):
            return False  # a concurrent resume (or kill) got there first
        for run in paused:
            transitions.transition(
                run, S.RUNNING, outputs={"onResume": values[run.pk]}, wake_at=None, reason=reason
            )
        walker.advance(execution.pk)
    return True


def resume_form(execution_id: Any) -> list[Any]:
    """The ``onResume`` input declarations (``spec.InputSpec``) of a paused execution: the form to show
    whoever resumes it; empty when it is not paused or asks nothing."""

    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None or execution.state != S.PAUSED:
        return []
    flow = flow_snapshots.flow_for(execution)
    specs: dict[str, Any] = {}
    for task_id in execution.task_runs.filter(state=S.PAUSED).values_list("task_id", flat=True).distinct():
        for item in waiting.on_resume_specs(flow, task_id):
            specs.setdefault(item.id, item)
    return list(specs.values())


# --- kill --------------------------------------------------------------------------------------------


def is_being_killed(taskrun_id: str) -> bool:
    return TaskRun.objects.filter(pk=taskrun_id, state=S.KILLING).exists()


def _on_worker(flow: Any, run: TaskRun) -> bool:
    task = flow.find_task(run.task_id)
    task_type = task_api.lookup(task.type) if task else None
    return task_type is not None and not task_type.flowable


def kill(execution_id: Any, *, acting_user: Any = None) -> bool:
    """RUNNING/PAUSED/CREATED/QUEUED → KILLING → KILLED, with every unfinished task run and child execution.

    A run busy on a worker goes KILLING: its Celery delivery is revoked (terminated on a prefork pool)
    and a cooperative ``ctx.sleep`` raises ``TaskKilled``; after ``KILL_GRACE_SECONDS`` it is KILLED
    regardless. Nothing after it is scheduled: ``advance`` does nothing for a KILLING execution.
    """
    with transaction.atomic():
        execution = _locked(execution_id)
        if execution.state in TERMINAL or execution.state == S.KILLING:
            return False
        if not transitions.transition(execution, S.KILLING, reason=f"killed{_who(acting_user)}"):
            return False
        # In the execution's own log too: whoever reads why a run stopped sees who stopped it.
        logs.log(
            execution,
            None,
            "WARN",
            f"Execution killed{_who(acting_user) or ' (no user: an operator command or a parent)'}",
        )
        flow = flow_snapshots.flow_for(execution)
        unfinished_runs = execution.task_runs.exclude(state__in=[s.value for s in TERMINAL])
        revoke = _kill_runs(flow, unfinished_runs, reason="execution killed")
        unfinished = execution.children.exclude(state__in=[s.value for s in TERMINAL])
        children = [str(pk) for pk in unfinished.values_list("pk", flat=True)]
        end_kill(execution)
        execution_pk = str(execution.pk)

        def after_commit() -> None:
            if revoke:
                _revoke(revoke)
            for child in children:
                kill(child, acting_user=acting_user)
            if revoke:
                finish_kill.apply_async((execution_pk,), countdown=KILL_GRACE_SECONDS)

        transaction.on_commit(after_commit, robust=True)
    return True


def _kill_runs(flow: Any, runs: Any, *, reason: str) -> list[str]:
    """Each unfinished run in ``runs``: KILLING while busy on a worker, else KILLED at once.

    Returns the Celery delivery ids to revoke (after commit).
    """
    revoke: list[str] = []
    for run in runs:
        if run.state == S.RUNNING and _on_worker(flow, run):
            transitions.transition(run, S.KILLING, reason=reason)
            if run.worker_task_id:
                revoke.append(run.worker_task_id)
        else:
            transitions.transition(run, S.KILLED, wake_at=None, reason=reason)
    return revoke


def kill_descendants(execution: Execution, run: TaskRun, *, reason: str) -> int:
    """Kill the unfinished task runs below the flowable ``run`` and the subflow executions they started.

    For a flowable that ends early (its ``timeout``): call it under the execution's row lock. A run busy
    on a worker goes KILLING like in ``kill``; whatever has not stopped after ``KILL_GRACE_SECONDS`` is
    declared KILLED. Returns how many task runs were killed.
    """
    flow = flow_snapshots.flow_for(execution)
    runs = list(execution.task_runs.all())
    below: set[Any] = {run.pk}
    grew = True
    while grew:  # to a fixpoint: no assumption on the order runs were created in
        grew = False
        for candidate in runs:
            if candidate.parent_id in below and candidate.pk not in below:
                below.add(candidate.pk)
                grew = True
    below.discard(run.pk)
    victims = [r for r in runs if r.pk in below and r.state not in TERMINAL]
    revoke = _kill_runs(flow, victims, reason=reason)
    starters = [run.pk, *below]  # the flowable itself too when it is a Subflow
    unfinished = Execution.objects.filter(parent_taskrun_id__in=starters).exclude(
        state__in=[s.value for s in TERMINAL]
    )
    children = [str(pk) for pk in unfinished.values_list("pk", flat=True)]
    killing = [str(r.pk) for r in victims if r.state == S.KILLING]

    def after_commit() -> None:
        if revoke:
            _revoke(revoke)
        for child in children:
            kill(child)
        if killing:
            finish_killing_runs.apply_async((killing,), countdown=KILL_GRACE_SECONDS)

    transaction.on_commit(after_commit, robust=True)
    return len(victims)


@shared_task(name="orchestrator.finish_killing_runs")
def finish_killing_runs(taskrun_ids: list[str]) -> int:
    """After the grace period: runs still KILLING (their task did not stop) are declared KILLED."""
    count = 0
    for run in TaskRun.objects.filter(pk__in=taskrun_ids, state=S.KILLING):
        count += transitions.transition(run, S.KILLED, reason="did not stop within the kill grace period")
    return count


def _revoke(delivery_ids: list[str]) -> None:
    """Ask workers to terminate these deliveries (prefork pools do; others rely on the kill flag).

    Best effort on a fresh connection: a broker hiccup must not stop killing children or the grace
    timer, and the cooperative flag plus ``finish_kill`` end the runs anyway.
    """
    try:
        with current_app.connection_for_write() as connection:
            current_app.control.revoke(delivery_ids, terminate=True, connection=connection)
    except Exception:  # noqa: BLE001 (logged; the kill completes without it)
        logger.warning("could not revoke %s", delivery_ids, exc_info=True)


def end_kill(execution: Execution, *, force: bool = False) -> bool:
    """KILLING → KILLED once no task run is still being killed (``force``: kill those too)."""
    if execution.state != S.KILLING:
        return False
    pending = list(execution.task_runs.exclude(state__in=[s.value for s in TERMINAL]))
    if force:
        for run in pending:
            transitions.transition(run, S.KILLED, reason="did not stop within the kill grace period")
    elif pending:
        return False
    return transitions.transition(execution, S.KILLED)


def acknowledge_kill(run: TaskRun) -> None:
    """The task noticed the kill and stopped: its run ends KILLED; the execution when it was the last."""
    with transaction.atomic():
        execution = _locked(run.execution_id)
        transitions.transition(run, S.KILLED, reason="stopped after kill")
        end_kill(execution)


@shared_task(name="orchestrator.finish_kill")
def finish_kill(execution_id: str) -> bool:
    """After the grace period: whatever did not stop is declared KILLED (idempotent)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        return execution is not None and end_kill(execution, force=True)


# --- restart -----------------------------------------------------------------------------------------


def _handler_task_ids(flow: Any) -> set[str]:
    """Ids of tasks inside ``errors``/``finally`` blocks: on restart they run again only if needed."""
    ids: set[str] = set()
    blocks = [flow.errors, flow.finally_]
    for task in flow.walk_tasks():
        blocks += [task.branches.get("errors", []), task.branches.get("finally", [])]
    for block in blocks:
        for task in block:
            ids.update(t.id for t in task.walk())
    return ids


def restart(execution_id: Any, *, acting_user: Any = None) -> bool:
    """FAILED/KILLED/WARNING → RESTARTED → RUNNING, from the failed task runs.

    Successful runs and their outputs stay; each failed run gets a new attempt on the same row (its
    history keeps the failed attempt and its error); flowables above it run again; runs of ``errors``
    and ``finally`` blocks are dropped so they run again only if needed.

    A restarted execution runs again, so the flow's ``concurrency`` limit applies as to a new one:
    beyond the limit it waits QUEUED (its reopened runs are dispatched when a slot frees), or ends
    CANCELLED/FAILED with its task runs left as they were.
    """
    with transaction.atomic():
        execution = _locked(execution_id)
        if execution.state not in (S.FAILED, S.KILLED, S.WARNING):
            return False
        if not execution.task_runs.filter(state__in=[S.FAILED, S.KILLED]).exists():
            return False
        if not transitions.transition(execution, S.RESTARTED, reason=f"restarted{_who(acting_user)}"):
            return False  # a concurrent restart got there first
        flow = flow_snapshots.flow_for(execution)
        admitted = concurrency.admit(execution, flow)
        if execution.state in TERMINAL:
            return True  # refused by the concurrency limit (CANCEL/FAIL): nothing reopens
        execution.task_runs.filter(task_id__in=_handler_task_ids(flow)).delete()
        runs = {run.pk: run for run in execution.task_runs.all()}
        failed = [run for run in runs.values() if run.state in (S.FAILED, S.KILLED)]
        reopen: dict[Any, TaskRun] = {}
        for run in failed:
            reopen[run.pk] = run
            parent = runs.get(run.parent_id)
            while parent is not None and parent.state in (S.FAILED, S.KILLED, S.WARNING):
                reopen[parent.pk] = parent
                parent = runs.get(parent.parent_id)
        for run in reopen.values():
            note = f"attempt {run.attempts} ended {run.state}" + (f": {run.error}" if run.error else "")
            transitions.transition(run, S.RESTARTED, reason=note)
            if _on_worker(flow, run):
                transitions.transition(run, S.QUEUED, error="")
                run_id = str(run.pk)
                if admitted:  # a queued restart's runs are dispatched by concurrency.release
                    transaction.on_commit(lambda run_id=run_id: handoff.dispatch(run_id), robust=True)
            else:
                # A flowable walks its children again; a Subflow starts a new child execution.
                transitions.transition(run, S.RUNNING, error="", outputs={})
        if admitted:
            walker.advance(execution.pk)
    return True


# --- replay ------------------------------------------------------------------------------------------


def replay(execution_id: Any, from_task_id: str | None = None, *, acting_user: Any = None) -> Execution:
    """A new execution of the same flow revision and inputs, keeping the task runs that come before
    ``from_task_id`` in the flow (all of them run again without it). Kestra's replay."""
    source = Execution.objects.filter(pk=execution_id).first()
    if source is None:
        raise ControlError(f"execution '{execution_id}' not found")
    flow = flow_snapshots.flow_for(source)
    order = [task.id for task in flow.walk_tasks()]
    keep_ids: set[str] = set()
    open_ids: set[str] = set()
    if from_task_id is not None:
        if flow.find_task(from_task_id) is None:
            raise ControlError(f"task '{from_task_id}' is not in flow {flow.namespace}.{flow.id}")
        open_ids = _ancestors(flow, from_task_id)
        before = order[: order.index(from_task_id)]
        keep_ids = {task_id for task_id in before if task_id not in open_ids} - _handler_task_ids(flow)
    now = timezone.now()
    with transaction.atomic():
        execution = Execution.objects.create(
            namespace=source.namespace,
            flow_id=source.flow_id,
            flow_revision=source.flow_revision,
            flow_source=source.flow_source,
            inputs=source.inputs,
            labels=source.labels,
            trigger=source.trigger,
            original=source,
            history=[
                {
                    "state": S.CREATED.value,
                    "date": template_context.iso(now),
                    "reason": f"replay of {source.pk}"
                    + (f" from '{from_task_id}'" if from_task_id else "")
                    + _who(acting_user),
                }
            ],
        )
        transitions.announce(execution, None, S.CREATED.value)
        mapping: dict[Any, TaskRun] = {}
        for run in source.task_runs.order_by("created"):
            parent = mapping.get(run.parent_id) if run.parent_id else None
            if run.parent_id and parent is None:
                continue  # its parent was not copied
            if run.task_id in open_ids:
                state, ended = S.RUNNING, None
            elif run.task_id in keep_ids and run.state in (S.SUCCESS, S.WARNING):
                state, ended = State(run.state), run.ended
            else:
                continue
            entry = {
                "state": state.value,
                "date": template_context.iso(now),
                "reason": f"copied from {run.pk}",
            }
            mapping[run.pk] = TaskRun.objects.create(
                execution=execution,
                task_id=run.task_id,
                parent=parent,
                value=run.value,
                state=state,
                attempts=run.attempts,
                outputs=run.outputs if state != S.RUNNING else {},
                history=[*run.history, entry],
                started=run.started,
                ended=ended,
            )
        if concurrency.admit(execution, flow):  # a replay is a new execution: the flow's limit applies
            walker.advance(execution.pk)
    return execution


def _ancestors(flow: Any, task_id: str) -> set[str]:
    """Ids of the flowables containing ``task_id``."""

    def search(tasks: list[Any], path: list[str]) -> list[str] | None:
        for task in tasks:
            if task.id == task_id:
                return path
            for children in task.branches.values():
                found = search(children, [*path, task.id])
                if found is not None:
                    return found
        return None

    return set(search([*flow.tasks, *flow.errors, *flow.finally_], []) or [])
