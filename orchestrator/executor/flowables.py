"""How each flowable task type schedules its children (Kestra's semantics), one function per type.

The engine's walker re-walks the flow under the execution's row lock after every change. For a
flowable run it calls the type's walk function here, which asks the walker to walk children (creating
a child's run is how it starts) and returns the flowable's resulting state, or None while a child is
still pending. The walker offers the building blocks: ``sequence``, ``block`` (a sequence with
``errors``/``finally``), ``guarded`` (errors/finally around any result), ``outcome`` (one child),
``has_run`` and ``props`` (rendered properties); ``concurrently`` below runs units side by side.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.flowmodel.spec import TaskSpec, flag_set
from orchestrator.flowmodel.templating import is_truthy
from orchestrator.state.models import FAILING, SEVERITY, State, TaskRun

if TYPE_CHECKING:
    from orchestrator.executor.walker import Walker as Walker

S = State
_DONE = (S.SUCCESS, S.WARNING)  # what a Dag dependency must have reached (after allowFailure etc.)


class FlowableFailed(Exception):
    """The flowable itself cannot go on (bad rendered property, no Switch case...): it fails."""


def flag(task: TaskSpec, key: str) -> bool:
    return flag_set(task.common.get(key, False))


def counts_as(task: TaskSpec | None, state: State) -> State:
    """The state a finished ``task`` counts as for its siblings and its parent (Kestra's rules):
    ``allowFailure`` turns FAILED into WARNING, ``allowWarning`` WARNING into SUCCESS, SKIPPED is SUCCESS.
    The engine's walker and a WorkingDirectory's inline children both go by it."""
    if task is not None and state == State.FAILED and flag(task, "allowFailure"):
        state = State.WARNING
    if task is not None and state == State.WARNING and flag(task, "allowWarning"):
        state = State.SUCCESS
    return State.SUCCESS if state == State.SKIPPED else state


def enabled(tasks: Iterable[TaskSpec]) -> list[TaskSpec]:
    return [task for task in tasks if not flag(task, "disabled")]


# --- running units side by side ------------------------------------------------------------------


@dataclass
class Unit:
    """Something a concurrent flowable starts: one child task, or one iteration (a task sequence)."""

    key: str
    started: Callable[[], bool]
    walk: Callable[[], State | None]  # walks (and, when not started, starts) it; None while pending
    after: tuple[str, ...] = ()  # keys of units that must have succeeded first (Dag)


def concurrently(units: list[Unit], limit: int) -> State | None:
    """Start units in order, at most ``limit`` (0: no limit) pending at once; None while any is pending.

    Units start in batches, like one pass of Kestra's executor: every unit that may start now (a free
    slot, its ``after`` units done) is started, even if an earlier unit of the same batch fails at once
    (e.g. a property that cannot render): Kestra creates them all before any of them runs. After a
    failure no new batch starts (Kestra stops scheduling a failed Parallel or ForEach), but what already
    runs is waited for. A unit that ends at once frees its slot for the next batch. Then the worst state.
    """

    states: dict[str, State] = {}
    pending = 0
    walked: set[str] = set()

    def walk(unit: Unit) -> None:
        nonlocal pending
        walked.add(unit.key)
        state = unit.walk()
        if state is None:
            pending += 1
        else:
            states[unit.key] = state

    def failed() -> bool:
        return any(s in FAILING for s in states.values())

    for unit in units:
        if unit.started():
            walk(unit)
    while not failed():
        batch: list[Unit] = []
        for unit in units:
            if unit.key in walked or not all(states.get(k) in _DONE for k in unit.after):
                continue
            if limit and pending + len(batch) >= limit:
                break
            batch.append(unit)
        if not batch:
            break
        for unit in batch:
            walk(unit)
    if pending or (len(walked) < len(units) and not failed()):
        return None
    return max(states.values(), key=SEVERITY.__getitem__, default=S.SUCCESS)


def task_unit(
    walker: Walker, parent: TaskRun, task: TaskSpec, value: Any = None, *, keyed: bool = False
) -> Unit:
    """One child task; ``keyed``: it runs for iteration ``value`` (else it inherits the parent's)."""
    args = (parent, task, value) if keyed else (parent, task)
    return Unit(
        key=f"{task.id}\x00{value}" if keyed else task.id,
        started=lambda: walker.has_run(*args),
        walk=lambda: walker.outcome(*args),
        after=tuple(task.common.get("dependsOn") or ()),
    )


def iteration_unit(walker: Walker, parent: TaskRun, tasks: list[TaskSpec], value: str) -> Unit:
    """All of ``tasks`` for one value, one after another."""
    return Unit(
        key=value,
        started=lambda: any(walker.has_run(parent, task, value) for task in tasks),
        walk=lambda: walker.sequence(parent, tasks, value),
    )


# --- property helpers ----------------------------------------------------------------------------


def iteration_values(raw: Any) -> list[str]:
    """A list, or a JSON array in a string, as the distinct strings runs carry in ``taskrun.value``.

    Kestra keeps iteration values as strings: objects and arrays become compact JSON, numbers their text.
    """
    values = raw
    if isinstance(raw, str):
        try:
            values = json.loads(raw)
        except ValueError:
            raise FlowableFailed(f"values must be a list or a JSON array, got {raw!r}") from None
    if not isinstance(values, list):
        raise FlowableFailed(f"values must be a list or a JSON array, got {type(values).__name__}")
    if any(v is None for v in values):
        # Kestra's FlowableUtils.resolveEachTasks refuses nulls, counted among the distinct values: 1.
        shown = ", ".join("null" if v is None else str(v) for v in values)
        raise FlowableFailed(f"Found '1' null values on Each, with values=[{shown}]")
    texts = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values]
    return list(dict.fromkeys(texts))


def limit_of(raw: Any, name: str) -> int:
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise FlowableFailed(f"{name} must be an integer, got {raw!r}") from None
    if limit < 0:
        raise FlowableFailed(f"{name} must be 0 (no limit) or more, got {limit}")
    return limit


def case_name(value: Any) -> str:
    """Switch compares the rendered value with the case names as text (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _errors_finally(task: TaskSpec) -> tuple[list[TaskSpec], list[TaskSpec]]:
    return task.branches.get("errors", []), task.branches.get("finally", [])


# --- the flowable types --------------------------------------------------------------------------

WalkFn = Callable[["Walker", TaskRun, TaskSpec], State | None]
_WALKS: dict[str, WalkFn] = {}


def walks(*type_names: str) -> Callable[[WalkFn], WalkFn]:
    def decorator(fn: WalkFn) -> WalkFn:
        for name in type_names:
            _WALKS[name] = fn
        return fn

    return decorator


def walk_for(type_name: str) -> WalkFn | None:
    """The walk function of a canonical flowable type name (None: the engine cannot walk it yet)."""
    return _WALKS.get(type_name)


_FLOW = "io.kestra.plugin.core.flow."


@walks(_FLOW + "Sequential")
def sequential(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    """Children one after another (WorkingDirectory runs its children on a worker instead)."""
    return walker.block(run, task.branches.get("tasks", []), *_errors_finally(task))


@walks(_FLOW + "AllowFailure")
def allow_failure(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    result = walker.block(run, task.branches.get("tasks", []), *_errors_finally(task))
    return S.WARNING if result == S.FAILED else result


@walks(_FLOW + "Parallel")
def parallel(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    limit = limit_of(walker.props(run, task).get("concurrent", 0), "concurrent")
    units = [task_unit(walker, run, child) for child in enabled(task.branches.get("tasks", []))]
    return walker.guarded(run, concurrently(units, limit), *_errors_finally(task))


@walks(_FLOW + "Dag")
def dag(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    """Like Parallel, but a task starts only once all it ``dependsOn`` succeeded (checked acyclic at load)."""
    limit = limit_of(walker.props(run, task).get("concurrent", 0), "concurrent")
    children = task.branches.get("tasks", [])
    disabled = {child.id for child in children if flag(child, "disabled")}
    units = []
    for child in enabled(children):
        unit = task_unit(walker, run, child)
        unit.after = tuple(dep for dep in unit.after if dep not in disabled)
        units.append(unit)
    return walker.guarded(run, concurrently(units, limit), *_errors_finally(task))


def _started_branch(walker: Walker, run: TaskRun, task: TaskSpec, names: Iterable[str]) -> str | None:
    """The branch already under way: once chosen, a branch is kept even if its condition would now
    render differently (e.g. it tests an output the branch itself produces)."""
    for name in names:
        if any(walker.has_run(run, child) for child in task.branches.get(name, [])):
            return name
    return None


@walks(_FLOW + "If")
def if_(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    branch = _started_branch(walker, run, task, ("then", "else"))
    if branch is None:
        branch = "then" if is_truthy(walker.props(run, task).get("condition")) else "else"
    return walker.block(run, task.branches.get(branch, []), *_errors_finally(task))


@walks(_FLOW + "Switch")
def switch(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    """The chosen value is kept in the run's outputs (Kestra's ``value``/``defaults``) and reused."""
    if "value" in (run.outputs or {}):
        value = run.outputs["value"]
    else:
        value = case_name(walker.props(run, task).get("value"))
    tasks = task.branches.get(f"cases.{value}")
    if tasks is None:
        tasks = task.branches.get("defaults")
        if tasks is None:
            raise FlowableFailed(f"no case matches the value '{value}' and there are no defaults")
    if "value" not in (run.outputs or {}):
        walker.set_outputs(run, {"value": value, "defaults": f"cases.{value}" not in task.branches})
    return walker.block(run, tasks, *_errors_finally(task))


@walks(_FLOW + "ForEach", _FLOW + "EachSequential")
def for_each(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    """One iteration (all ``tasks`` in order) per value; ForEach runs ``concurrencyLimit`` at a time."""
    props = walker.props(run, task)
    if "values" in props:
        values = iteration_values(props["values"])
        limit = limit_of(props.get("concurrencyLimit", 1), "concurrencyLimit")
    else:
        values, limit = iteration_values(props.get("value")), 1
    tasks = enabled(task.branches.get("tasks", []))
    units = [iteration_unit(walker, run, tasks, value) for value in values]
    return walker.guarded(run, concurrently(units, limit), *_errors_finally(task))


@walks(_FLOW + "EachParallel")
def each_parallel(walker: Walker, run: TaskRun, task: TaskSpec) -> State | None:
    """Every (value, task) pair side by side, at most ``concurrent`` at once (Kestra's EachParallel)."""
    props = walker.props(run, task)
    limit = limit_of(props.get("concurrent", 0), "concurrent")
    tasks = enabled(task.branches.get("tasks", []))
    units = [
        task_unit(walker, run, child, value, keyed=True)
        for value in iteration_values(props.get("value"))
        for child in tasks
    ]
    return walker.guarded(run, concurrently(units, limit), *_errors_finally(task))
