"""Kestra's ``workerGroup: {key, fallback}``: which workers may run a task, and what to do without one.

A task runs only on workers of its group. The task's own ``workerGroup`` wins over the flow's; with
neither, any worker of the default pool runs it. ``fallback`` says what happens when no worker of the
group is alive when the task is dispatched (Kestra's ``ExecutorService``): ``WAIT`` (the default since
Kestra 0.20) leaves it queued until one comes, ``FAIL`` fails the task, ``CANCEL`` cancels it.

Portico gives each group its own Celery queue, ``<default queue>.wg.<key>``: a worker is in a group when
it consumes that queue (``PORTICO_WORKER_GROUPS`` adds them, see ``orchestrator.worker.groups``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestrator.flowmodel.flow_errors import ParseContext
from orchestrator.flowmodel.parsed_flow import Flow, TaskSpec
from orchestrator.flowmodel.yamlsource import key_line, type_name, value_line

KEY = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")  # Kestra's WorkerGroup.key pattern
KEY_MAX = 100  # a queue name carries it; Kestra sets no bound, a hostile one costs nothing here
FALLBACKS = ("FAIL", "WAIT", "CANCEL")
DEFAULT_FALLBACK = "WAIT"
QUEUE_INFIX = ".wg."


@dataclass(frozen=True)
class WorkerGroup:
    key: str
    fallback: str = DEFAULT_FALLBACK


def check(ctx: ParseContext, doc: dict, path: str) -> None:
    """Report what is wrong with ``doc["workerGroup"]`` (a task's or the flow's) with its line."""
    value, line = doc["workerGroup"], value_line(doc, "workerGroup")
    if value is None:
        return
    if not isinstance(value, dict):
        ctx.error(line, path, f"must be a mapping with 'key' and 'fallback', got {type_name(value)}")
        return
    for extra in set(value) - {"key", "fallback"}:
        ctx.error(key_line(value, extra, line), f"{path}.{extra}", "unknown property")
    key = value.get("key")
    if key is not None and (not isinstance(key, str) or not KEY.fullmatch(key) or len(key) > KEY_MAX):
        ctx.error(
            value_line(value, "key", line),
            f"{path}.key",
            f"'{key}' must match ^{KEY.pattern}$ (at most {KEY_MAX} characters)",
        )
    fallback = value.get("fallback")
    if fallback is not None and fallback not in FALLBACKS:
        ctx.error(
            value_line(value, "fallback", line), f"{path}.fallback", "must be one of: FAIL, WAIT, CANCEL"
        )


def _group(value: Any) -> WorkerGroup | None:
    if not isinstance(value, dict) or not isinstance(value.get("key"), str):
        return None  # Kestra: a workerGroup without a key selects no group
    return WorkerGroup(value["key"], value.get("fallback") or DEFAULT_FALLBACK)


def of_task(flow: Flow, task: TaskSpec | None) -> WorkerGroup | None:
    """The group that must run ``task``: its own ``workerGroup``, else the flow's, else None."""
    own = _group(task.common.get("workerGroup")) if task is not None else None
    return own or _group(flow.extra.get("workerGroup"))


def groups_of_flow(flow: Flow) -> set[str]:
    """Every group key some task of ``flow`` needs (what ``flow run``'s own worker must join)."""
    tasks = [
        t for top in [*flow.tasks, *flow.errors, *flow.finally_, *flow.after_execution] for t in top.walk()
    ]
    return {group.key for task in tasks if (group := of_task(flow, task)) is not None}


def queue_name(default_queue: str, key: str) -> str:
    return f"{default_queue}{QUEUE_INFIX}{key}"


def key_of_queue(default_queue: str, queue: str) -> str | None:
    """The group a queue serves, or None for the default queue (or any other)."""
    prefix = f"{default_queue}{QUEUE_INFIX}"
    return queue[len(prefix) :] if queue.startswith(prefix) and len(queue) > len(prefix) else None
