"""The template context a task's properties are rendered with (Kestra's variable names)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from orchestrator.flowmodel import input_types as input_types
from orchestrator.flowmodel import secrets_at_rest, storage, templating
from orchestrator.flowmodel.spec import Flow, TaskSpec
from orchestrator.state import flow_snapshots
from orchestrator.state.models import Execution, State, TaskRun


def iso(moment: datetime | None) -> str | None:
    """Kestra prints instants as ISO-8601 with milliseconds and a ``Z``; templates compare these strings."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LazyVars(Mapping[str, Any]):
    """Flow ``variables``, each rendered only when a template reads it (they may use inputs/outputs)."""

    def __init__(self, variables: Mapping[str, Any], context: dict[str, Any]) -> None:
        self._variables = variables
        self._context = context
        self._rendered: dict[str, Any] = {}
        self._rendering: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in self._rendered:
            raw = self._variables[key]
            if key in self._rendering:
                raise templating.TemplateError(f"variable '{key}' refers to itself")
            self._rendering.add(key)
            try:
                self._rendered[key] = templating.render(raw, self._context)
            finally:
                self._rendering.discard(key)
        return self._rendered[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)


def task_outputs(runs: Iterable[TaskRun]) -> dict[str, Any]:
    """``outputs.<taskId>``, or ``outputs.<taskId>.<v1>.<v2>...`` for runs inside (nested) iterations.

    As in Kestra, a run inside ForEach iterations is keyed by the iteration values from the outermost
    loop inward (a child inherits its parent's value; a new value marks one more loop level).
    """
    runs = list(runs)
    by_id = {run.pk: run for run in runs}
    outputs: dict[str, Any] = {}
    for run in runs:
        # RUNNING: a flowable's own outputs while its children run (WaitFor's iterationCount).
        if run.state not in (State.SUCCESS, State.WARNING, State.RUNNING) or not run.outputs:
            continue
        values = iteration_values(run, by_id)
        revealed = secrets_at_rest.reveal(run.outputs)
        if not values:
            outputs[run.task_id] = revealed
            continue
        slot = outputs.setdefault(run.task_id, {})
        for value in values[:-1]:
            slot = slot.setdefault(value, {})
        slot[values[-1]] = revealed
    return outputs


def iteration_values(run: TaskRun, by_id: Mapping[Any, TaskRun]) -> list[str]:
    """The iteration values ``run`` belongs to, outermost first."""
    values: list[str] = []
    current: TaskRun | None = run
    while current is not None:
        parent = by_id.get(current.parent_id) if current.parent_id else None
        if current.value is not None and (parent is None or parent.value != current.value):
            values.append(current.value)
        current = parent
    return values[::-1]


def parents(taskrun: TaskRun, by_id: Mapping[Any, TaskRun]) -> list[dict[str, Any]]:
    """Kestra's ``parents``: every ancestor run, nearest first, as ``{taskrun: {value}, outputs}``."""
    chain: list[dict[str, Any]] = []
    current = by_id.get(taskrun.parent_id) if taskrun.parent_id else None
    if current is None and taskrun.parent_id:
        current = taskrun.parent
    while current is not None:
        entry: dict[str, Any] = {"taskrun": {"value": current.value}}
        if current.outputs:
            entry["outputs"] = secrets_at_rest.reveal(current.outputs)
        chain.append(entry)
        if not current.parent_id:
            break
        current = by_id.get(current.parent_id) or current.parent
    return chain


# The context names computed from the execution's other task runs (``render`` and ``vars`` may reach them
# indirectly). A template that names none of them does not need those runs loaded.
_RUN_NAMES = re.compile(r"\b(?:outputs|parents?|currentEachOutput|workerTaskrun|vars|render)\b")


def reads_runs(task: TaskSpec) -> bool:
    """True when ``task``'s templates may read other task runs (their outputs, parents, ...).

    A worker only loads the execution's task runs when this says so: loading them on every hop made a
    long flow's hops grow with its length.
    """
    return any(_RUN_NAMES.search(text) for text in templating.template_strings((task.props, task.common)))


def build(
    execution: Execution,
    flow: Flow,
    runs: Iterable[TaskRun] | None,
    *,
    taskrun: TaskRun | None = None,
    task: TaskSpec | None = None,
) -> dict[str, Any]:
    """The context for ``taskrun`` of ``task``; ``runs=None`` leaves out what the other runs give
    (``outputs``, ``parents``, ...) for a template that ``reads_runs`` says does not need it."""
    with_runs = runs is not None
    runs = list(runs) if runs is not None else []
    context: dict[str, Any] = {
        # Kestra's revision is an integer (flow.revision itself is the source hash the caches key on).
        "flow": {
            "id": flow.id,
            "namespace": flow.namespace,
            "revision": flow_snapshots.revision_number(execution),
        },
        "execution": {
            "id": str(execution.id),
            "startDate": iso(execution.started or execution.created),
            "state": execution.state,
        },
        # Sealed secrets are decrypted here, for rendering only (secrets_at_rest).
        "inputs": input_types.nested(secrets_at_rest.reveal(execution.inputs)),
        "outputs": task_outputs(runs),
        # Kestra gives every execution system.correlationId (its own id, or its root parent's for subflows).
        "labels": input_types.nested({"system.correlationId": str(execution.id), **execution.labels}),
        "trigger": execution.trigger or {},
    }
    if not context["inputs"]:
        # Kestra's RunVariables adds ``inputs`` only when there are some: ``{{ inputs.x }}`` in a flow
        # without inputs is "Unable to find `inputs` ...", not a missing attribute.
        del context["inputs"]
    context["vars"] = LazyVars(flow.variables or {}, context)
    context["read"] = storage.reader(execution)  # Kestra's read(uri), limited to what this execution may read
    if task is not None:
        context["task"] = {"id": task.id, "type": task.type}
    if taskrun is not None:
        context["taskrun"] = {
            "id": str(taskrun.id),
            "startDate": iso(taskrun.started or taskrun.created),
            # Kestra counts the attempts made *before* the running one: 0 on the first try.
            "attemptsCount": (
                max(taskrun.attempts - 1, 0) if taskrun.state == State.RUNNING else taskrun.attempts
            ),
            "value": taskrun.value,
        }
        if not with_runs:
            return context
        by_id = {run.pk: run for run in runs}
        ancestors = parents(taskrun, by_id)
        if ancestors:
            context["parents"] = ancestors
            context["parent"] = ancestors[0]
        values = iteration_values(taskrun, by_id)
        context["currentEachOutput"] = lambda outputs: _current_each(outputs, values)
        worker = _working_directory(taskrun, by_id, flow)
        if worker is not None:
            context["workerTaskrun"] = {"id": str(worker.id), "value": worker.value}
    return context


def _current_each(outputs: Any, values: list[str]) -> Any:
    """Kestra's ``currentEachOutput(outputs.t)``: ``t``'s outputs in the caller's own iteration."""
    for value in values:
        if isinstance(outputs, Mapping) and value in outputs:
            outputs = outputs[value]
    return outputs


def _working_directory(taskrun: TaskRun, by_id: Mapping[Any, TaskRun], flow: Flow) -> TaskRun | None:
    """The WorkingDirectory run ``taskrun`` is inside (Kestra's ``workerTaskrun``), if any."""
    current = by_id.get(taskrun.parent_id) if taskrun.parent_id else None
    while current is not None:
        spec = flow.find_task(current.task_id)
        if spec is not None and spec.type.endswith(".WorkingDirectory"):
            return current
        current = by_id.get(current.parent_id) if current.parent_id else None
    return None
