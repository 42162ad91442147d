"""What parsing a flow yields: ``Flow``, ``TaskSpec``, ``TriggerSpec``.

Import them from ``orchestrator.flowmodel.spec``. They are defined here, below the parser modules that
build them, because ``spec`` imports those parsers for its entry points (``parse_flow``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.flowmodel.flow_errors import FlowError
from orchestrator.flowmodel.input_definitions import InputSpec


@dataclass
class TaskSpec:
    id: str
    type: str
    props: dict[str, Any] = field(default_factory=dict)
    common: dict[str, Any] = field(default_factory=dict)
    branches: dict[str, list[TaskSpec]] = field(default_factory=dict)
    line: int = 0
    path: str = ""

    def walk(self) -> Iterator[TaskSpec]:
        yield self
        for children in self.branches.values():
            for child in children:
                yield from child.walk()


@dataclass
class TriggerSpec:
    id: str
    type: str
    props: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    path: str = ""


@dataclass
class Flow:
    id: str
    namespace: str
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    inputs: list[InputSpec] = field(default_factory=list)
    tasks: list[TaskSpec] = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    outputs: list[dict] = field(default_factory=list)
    errors: list[TaskSpec] = field(default_factory=list)
    finally_: list[TaskSpec] = field(default_factory=list)
    triggers: list[TriggerSpec] = field(default_factory=list)
    disabled: bool = False
    source: str = ""
    file: str = "<string>"
    revision: str = ""
    after_execution: list[TaskSpec] = field(default_factory=list)
    # Raw top-level blocks read elsewhere (``retry``, ``concurrency``) and Kestra's server-assigned
    # ``revision``; keys Portico cannot honour are refused at load, never kept here and ignored.
    extra: dict[str, Any] = field(default_factory=dict)
    # Problems Kestra only meets when the task runs (it loads the flow): reported, never refused.
    warnings: list[FlowError] = field(default_factory=list)

    def walk_tasks(self) -> Iterator[TaskSpec]:
        for task in [*self.tasks, *self.errors, *self.finally_, *self.after_execution]:
            yield from task.walk()

    def find_task(self, task_id: str) -> TaskSpec | None:
        return next((t for t in self.walk_tasks() if t.id == task_id), None)

    def label(self, key: str, default: str | None = None) -> str | None:
        return self.labels.get(key, default)

    @property
    def needs_approval(self) -> bool:
        return self.label("portico.approval") != "none"

    @property
    def input_map(self) -> dict[str, InputSpec]:
        return {spec.id: spec for spec in self.inputs}
