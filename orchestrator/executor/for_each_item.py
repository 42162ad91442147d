"""ForEachItem: split a file of lines into batches and run one subflow execution per batch.

As in Kestra, the ForEachItem run ``each`` shows three child runs, ``each_split`` (the batches, stored
as files), ``each_items`` (one sub-execution per batch; outputs ``numberOfBatches`` and ``iterations``,
the count of sub-executions per state) and ``each_merge`` (the sub-executions' outputs, one JSON line
each, stored as ``subflowOutputs``). It is an engine flowable handler (``walker.FLOWABLE_HANDLERS``),
idempotent under the execution's row lock like Subflow: sub-executions wake the parent when they end
(``flowcontrol._wake_parent``). Splitting and merging are done in that handler, not on a worker.

A sub-execution's ``inputs`` are rendered with ``{{ taskrun.items }}`` = its batch file's URI, which
the subflow may ``read()`` (storage lets a subflow read its parent flow's files).
"""

from __future__ import annotations

import json
import re
from typing import Any

from orchestrator.executor import walker
from orchestrator.executor.waiting import (
    SUBFLOW,
    HandlerFailure,
    child_flow_of,
    fail_run,
    render_value,
    start_run,
)
from orchestrator.flowmodel import input_types, spec, storage, templating
from orchestrator.flowmodel.labels import label_map
from orchestrator.state import flow_snapshots, logs, template_context, transitions
from orchestrator.state.models import SEVERITY, TERMINAL, Execution, State, TaskRun

S = State
FOR_EACH_ITEM = "io.kestra.plugin.core.flow.ForEachItem"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?B)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _child_run(walker: Any, run: TaskRun, suffix: str) -> TaskRun:
    """The ``<id>_split/_items/_merge`` run under ``run``, created (and started) on first use."""
    stand_in = spec.TaskSpec(id=f"{run.task_id}_{suffix}", type=FOR_EACH_ITEM)
    key = walker.key(stand_in, run)
    child = walker.runs.get(key) or walker.create_run(run, stand_in, flowable=True)
    if child.state == S.CREATED:
        transitions.transition(child, S.RUNNING, attempts=1)  # Kestra counts one attempt for each of them
    return child


def _finish(walker: Any, run: TaskRun, state: State, outputs: dict[str, Any] | None = None) -> State:
    transitions.transition(run, state, **({"outputs": outputs} if outputs is not None else {}))
    return state


# --- split ---------------------------------------------------------------------------------------


def batch_limits(batch: Any) -> tuple[int | None, int | None, int | None]:
    """(rows, bytes, partitions) from ``batch``; Kestra's default is one row per batch."""
    batch = batch or {}
    if not isinstance(batch, dict):
        raise HandlerFailure("batch must be a mapping with rows, bytes or partitions")

    def number(name: str) -> int | None:
        raw = batch.get(name)
        if raw in (None, ""):
            return None
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise HandlerFailure(f"batch.{name} must be a positive integer, got {raw!r}") from None
        if value < 1:
            raise HandlerFailure(f"batch.{name} must be a positive integer, got {raw!r}")
        return value

    size = None
    if batch.get("bytes") not in (None, ""):
        match = _SIZE.match(str(batch["bytes"]))
        if not match or int(match.group(1)) < 1:
            raise HandlerFailure(f"batch.bytes must be a size like 10MB, got {batch['bytes']!r}")
        size = int(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]
    rows, partitions = number("rows"), number("partitions")
    if rows is None and size is None and partitions is None:
        rows = 1
    return rows, size, partitions


def split_lines(data: bytes, rows: int | None, size: int | None, partitions: int | None) -> list[bytes]:
    """Batches of whole lines: ``rows`` lines, at most ``size`` bytes (a longer line goes alone), or
    ``partitions`` batches of nearly equal line counts."""
    lines = data.splitlines(keepends=True)
    if partitions:
        per = max(1, -(-len(lines) // partitions))
        return [b"".join(lines[i : i + per]) for i in range(0, len(lines), per)]
    batches: list[bytes] = []
    current: list[bytes] = []
    length = 0
    for line in lines:
        if current and ((rows and len(current) >= rows) or (size and length + len(line) > size)):
            batches.append(b"".join(current))
            current, length = [], 0
        current.append(line)
        length += len(line)
    if current:
        batches.append(b"".join(current))
    return batches


def _split(walker: Any, task: spec.TaskSpec, run: TaskRun, split: TaskRun) -> list[str]:
    """The batch URIs: made once (outputs ``splits``, a file of URIs), then read back."""
    if split.state == S.SUCCESS:
        return storage.get(split.outputs["splits"]).decode().split()
    props = render_value(walker, task, run, {k: task.props.get(k) for k in ("items", "batch")})
    uri = str(props.get("items") or "").strip()
    try:
        data = storage.read(walker.execution, uri)
    except storage.StorageError as exc:
        raise HandlerFailure(f"items: {exc}") from exc
    prefix = storage.taskrun_prefix(split)
    uris = [
        storage.put(prefix, f"batch-{n}.txt", batch)
        for n, batch in enumerate(split_lines(data, *batch_limits(props.get("batch"))), start=1)
    ]
    splits = storage.put(prefix, "splits.txt", "".join(f"{u}\n" for u in uris).encode())
    transitions.transition(split, S.SUCCESS, outputs={"splits": splits})
    return uris


# --- items: one sub-execution per batch -------------------------------------------------------------


def _start_children(walk: Any, task: spec.TaskSpec, run: TaskRun, items: TaskRun, uris: list[str]) -> None:
    keys = ("namespace", "flowId", "labels", "revision")
    static = render_value(walk, task, run, {k: task.props.get(k) for k in keys})
    namespace, flow_id = str(static.get("namespace")), str(static.get("flowId"))
    child_flow = child_flow_of(namespace, flow_id, static.get("revision"))
    parent = walk.execution
    labels: dict[str, Any] = dict(parent.labels) if spec.flag_set(task.props.get("inheritLabels")) else {}
    labels.update(label_map(static.get("labels")))
    labels["system.correlationId"] = parent.labels.get("system.correlationId", str(parent.pk))
    for index, uri in enumerate(uris):
        raw = _batch_inputs(walk, task, items, uri)
        try:
            child_inputs = input_types.resolve_inputs(child_flow, raw)
        except input_types.InputsInvalid as exc:
            problems = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            raise HandlerFailure(f"invalid inputs for {namespace}.{flow_id}: {problems}") from exc
        trigger = {
            "type": FOR_EACH_ITEM,
            "executionId": str(parent.pk),
            "namespace": parent.namespace,
            "flowId": parent.flow_id,
            "flowRevision": flow_snapshots.revision_number(parent),
            "taskRunId": str(items.pk),
            "taskRunIteration": index,
            "subflow": SUBFLOW,
        }
        try:
            walker.start_execution(
                child_flow, child_inputs, labels=labels, trigger=trigger, parent_taskrun=items
            )
        except walker.FlowDisabled as exc:
            raise HandlerFailure(str(exc)) from exc


def _batch_inputs(walker: Any, task: spec.TaskSpec, items: TaskRun, uri: str) -> dict[str, Any]:
    """The subflow ``inputs`` for one batch: Kestra's ``{{ taskrun.items }}`` is the batch file URI."""
    runs = list(walker.runs.values())
    context = template_context.build(walker.execution, walker.flow, runs, taskrun=items, task=task)
    context["taskrun"] = {**context["taskrun"], "items": uri}
    try:
        rendered = templating.render(task.props.get("inputs") or {}, context)
    except templating.TemplateError as exc:
        raise HandlerFailure(f"cannot render inputs: {exc}") from exc
    if not isinstance(rendered, dict):
        raise HandlerFailure("inputs must be a mapping of input id to value")
    return rendered


def _iterations(children: list[Execution]) -> dict[str, int]:
    counts = {"CREATED": 0, "RUNNING": 0}
    for child in children:
        state = child.state if child.state in TERMINAL else "RUNNING"
        if child.state == S.CREATED:
            state = "CREATED"
        counts[state] = counts.get(state, 0) + 1
    return counts


def _items(walker: Any, task: spec.TaskSpec, run: TaskRun, items: TaskRun, uris: list[str]) -> State | None:
    if items.state in TERMINAL:
        return State(items.state)
    if not uris:  # nothing to run: Kestra's each_items ends without outputs
        return _finish(walker, items, S.SUCCESS)
    children = list(Execution.objects.filter(parent_taskrun=items).order_by("created"))
    if not children:
        _start_children(walker, task, run, items, uris)
        children = list(Execution.objects.filter(parent_taskrun=items).order_by("created"))
        if str(task.props.get("wait", True)).lower() == "false":
            outputs = {"numberOfBatches": len(uris), "iterations": _iterations(children)}
            return _finish(walker, items, S.SUCCESS, outputs)
    outputs = {"numberOfBatches": len(uris), "iterations": _iterations(children)}
    if any(child.state not in TERMINAL for child in children):
        walker.set_outputs(items, outputs)  # progress while the sub-executions run
        return None
    worst = max((State(c.state) for c in children), key=lambda s: SEVERITY.get(s, 2))
    if worst in (S.SUCCESS, S.WARNING):
        return _finish(walker, items, worst, outputs)
    if str(task.props.get("transmitFailed", True)).lower() == "false":
        return _finish(walker, items, S.SUCCESS, outputs)
    transitions.transition(items, S.FAILED, outputs=outputs, error=f"{outputs['iterations']}")
    logs.log(walker.execution, items, "ERROR", f"sub-executions ended {worst}: {outputs['iterations']}")
    return S.FAILED


# --- merge -------------------------------------------------------------------------------------------


def _merge(walker: Any, items: TaskRun, merge: TaskRun) -> State:
    if merge.state in TERMINAL:
        return State(merge.state)
    children = Execution.objects.filter(parent_taskrun=items).order_by("created")
    lines = "".join(json.dumps(child.outputs or {}, separators=(",", ":")) + "\n" for child in children)
    uri = storage.put(storage.taskrun_prefix(merge), "outputs.jsonl", lines.encode())
    return _finish(walker, merge, S.SUCCESS, {"subflowOutputs": uri})


def handle_for_each_item(
    walker: Any, parent: TaskRun | None, task: spec.TaskSpec, run: TaskRun
) -> State | None:
    start_run(run)
    split = _child_run(walker, run, "split")
    try:
        uris = _split(walker, task, run, split)
    except HandlerFailure as exc:
        fail_run(walker, split, str(exc))
        return _finish(walker, run, S.FAILED)
    items = _child_run(walker, run, "items")
    try:
        state = _items(walker, task, run, items, uris)
    except HandlerFailure as exc:
        fail_run(walker, items, str(exc))
        return _finish(walker, run, S.FAILED)
    if state is None:
        return None
    if state not in (S.SUCCESS, S.WARNING):
        return _finish(walker, run, state)
    merged = _merge(walker, items, _child_run(walker, run, "merge"))
    return _finish(walker, run, max(state, merged, key=SEVERITY.__getitem__))


# Registered with the walker in ``AppConfig.ready``.
HANDLERS = {FOR_EACH_ITEM: handle_for_each_item}
