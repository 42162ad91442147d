"""What parsing a flow yields: ``Flow``, ``TaskSpec``, ``TriggerSpec`` and the flow-level ``SlaSpec``,
``CheckSpec`` and ``ListenerSpec``.

Import them from ``orchestrator.flowmodel.spec``. They are defined here, below the parser modules that
build them, because ``spec`` imports those parsers for its entry points (``parse_flow``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
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
class SlaSpec:
    """One item of the flow's ``sla`` (Kestra's ``SLA``): MAX_DURATION has ``duration``,
    EXECUTION_ASSERTION has ``assertion`` (Kestra's ``assert``, a keyword in Python)."""

    id: str
    type: str
    behavior: str
    labels: dict[str, str] = field(default_factory=dict)
    duration: timedelta | None = None
    assertion: str | None = None
    line: int = 0


@dataclass
class CheckSpec:
    """One item of the flow's ``checks`` (Kestra's ``Check``), with Kestra's defaults."""

    condition: str
    message: str
    style: str = "INFO"
    behavior: str = "BLOCK_EXECUTION"
    line: int = 0


@dataclass
class ListenerSpec:
    """One item of the flow's deprecated ``listeners``: ``tasks`` run once the execution has ended,
    when every one of ``conditions`` holds for it."""

    tasks: list[TaskSpec] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None


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
    sla: list[SlaSpec] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)
    listeners: list[ListenerSpec] = field(default_factory=list)
    # Raw top-level blocks read elsewhere (``retry``, ``concurrency``) and Kestra's server-assigned
    # ``revision``; keys Portico cannot honour are refused at load, never kept here and ignored.
    extra: dict[str, Any] = field(default_factory=dict)
    # Problems Kestra only meets when the task runs (it loads the flow): reported, never refused.
    warnings: list[FlowError] = field(default_factory=list)

    def walk_tasks(self) -> Iterator[TaskSpec]:
        for task in [*self.tasks, *self.errors, *self.finally_, *self.after_execution, *self.listener_tasks]:
            yield from task.walk()

    @property
    def listener_tasks(self) -> list[TaskSpec]:
        """The top-level tasks of every listener, in the order Kestra runs them (one sequence)."""
        return [task for listener in self.listeners for task in listener.tasks]

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
