"""A flow's task tree as a requester reads it before submitting: what will run, in which order.

Read from the parsed flow (``TaskSpec.branches``), so it shows exactly what the engine walks: ids, the
short name of each type, descriptions, and the branches of flowables (``then``/``else``, ``errors``...).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.flowmodel.spec import Flow, TaskSpec

# The flow's own sections after its main tasks, as people would name them.
_SECTIONS = (
    ("errors", "If a task fails"),
    ("finally_", "Always, at the end"),
    ("after_execution", "After the execution has ended"),
)
_MAX_ROWS = 500  # a huge generated flow still renders a bounded page


@dataclass(frozen=True)
class TopologyRow:
    """One line of the tree: a task (``task_id`` set) or the heading of a branch or section."""

    depth: int
    heading: str = ""
    task_id: str = ""
    type_name: str = ""
    type: str = ""
    description: str = ""
    disabled: bool = False


def _task_rows(task: TaskSpec, depth: int, rows: list[TopologyRow]) -> None:
    if len(rows) >= _MAX_ROWS:
        return
    description = task.common.get("description")
    rows.append(
        TopologyRow(
            depth=depth,
            task_id=task.id,
            type_name=task.type.rsplit(".", 1)[-1],
            type=task.type,
            description=str(description).strip() if description else "",
            disabled=task.common.get("disabled") is True,
        )
    )
    named = len(task.branches) > 1 or any(name != "tasks" for name in task.branches)
    for name, children in task.branches.items():
        if named:
            rows.append(TopologyRow(depth=depth + 1, heading=name))
        for child in children:
            _task_rows(child, depth + 1 + (1 if named else 0), rows)


def rows(flow: Flow) -> list[TopologyRow]:
    """The tree, depth first, main tasks first, then the flow's ``errors``/``finally``/``afterExecution``."""
    result: list[TopologyRow] = []
    for task in flow.tasks:
        _task_rows(task, 0, result)
    for attribute, heading in _SECTIONS:
        tasks = getattr(flow, attribute)
        if tasks:
            result.append(TopologyRow(depth=0, heading=heading))
            for task in tasks:
                _task_rows(task, 1, result)
    return result[:_MAX_ROWS]
