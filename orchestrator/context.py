"""The template context a task's properties are rendered with (Kestra's variable names)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from . import inputs as input_types
from . import templating
from .models import Execution, State, TaskRun
from .spec import Flow, TaskSpec


def iso(moment: datetime | None) -> str | None:
    """Kestra prints instants as ISO-8601 with a ``Z``; templates compare and format these strings."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


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
    """``outputs.<taskId>`` (or ``outputs.<taskId>.<value>`` for iterations) of every finished run."""
    outputs: dict[str, Any] = {}
    for run in runs:
        if run.state not in (State.SUCCESS, State.WARNING) or not run.outputs:
            continue
        if run.value is None:
            outputs[run.task_id] = run.outputs
        else:
            outputs.setdefault(run.task_id, {})[run.value] = run.outputs
    return outputs


def build(
    execution: Execution,
    flow: Flow,
    runs: Iterable[TaskRun],
    *,
    taskrun: TaskRun | None = None,
    task: TaskSpec | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {
            "id": str(execution.id),
            "startDate": iso(execution.started or execution.created),
            "state": execution.state,
        },
        "inputs": input_types.nested(execution.inputs),
        "outputs": task_outputs(runs),
        "labels": dict(execution.labels),
        "trigger": execution.trigger or {},
    }
    context["vars"] = LazyVars(flow.variables or {}, context)
    if task is not None:
        context["task"] = {"id": task.id, "type": task.type}
    if taskrun is not None:
        context["taskrun"] = {
            "id": str(taskrun.id),
            "startDate": iso(taskrun.started or taskrun.created),
            "attemptsCount": taskrun.attempts,
            "value": taskrun.value,
        }
        parent = taskrun.parent
        if parent is not None:
            context["parent"] = {"taskrun": {"id": str(parent.id), "value": parent.value}}
    return context
