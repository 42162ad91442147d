"""Kestra's execution-control types: Pause, Subflow, LoopUntil (flowables, see
``orchestrator.executor.waiting``), Resume, Labels, Echo, state.Set/Get/Delete and log.Fetch.

Property names and defaults follow Kestra's plugins; each pydantic model is the one declaration.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from django.db import transaction
from django.utils import timezone
from pydantic import Field

from orchestrator.flowmodel.labels import label_map
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.flowmodel.templating import is_truthy
from orchestrator.plugins.core.tasks import LEVELS, Props
from orchestrator.state.models import Execution, KeyValue, LogLine, TaskRun

Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


# --- flowables (the engine walks them; orchestrator.executor.waiting holds their behaviour) ---------------


class PauseProps(Props):
    delay: str | None = None  # deprecated alias of pauseDuration
    pauseDuration: str | None = None  # noqa: N815 (Kestra's property names)
    behavior: Literal["RESUME", "WARN", "FAIL", "CANCEL"] | str = "RESUME"
    onResume: list[dict[str, Any]] | None = None  # noqa: N815


@register(
    "io.kestra.plugin.core.flow.Pause",
    aliases=("io.kestra.core.tasks.flows.Pause",),
    props=PauseProps,
    flowable=True,
    branches=("tasks", "errors", "finally"),
    input_props=("onResume",),
    required_branches=(),
)
class Pause:
    """Pauses the execution (no worker held) until resumed, or until ``pauseDuration``/``timeout``."""


class SubflowProps(Props):
    namespace: str
    flowId: str  # noqa: N815
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)
    wait: bool | str = True
    transmitFailed: bool | str = True  # noqa: N815
    inheritLabels: bool | str = False  # noqa: N815
    # Kestra's integer revision (from 1; a template must render to one): that revision's source is started.
    revision: Annotated[int, Field(ge=1)] | str | None = None
    outputs: dict[str, Any] | None = None  # deprecated in Kestra: rendered against the child execution


@register(
    "io.kestra.plugin.core.flow.Subflow",
    aliases=("io.kestra.core.tasks.flows.Subflow",),
    props=SubflowProps,
    flowable=True,
)
class Subflow:
    """Starts another flow's execution; with ``wait`` its outputs and state come back to this task."""


class CheckFrequency(Props):
    """Kestra 0.23+ defaults (migration guide "LoopUntil task changed default values for
    checkFrequency"): one iteration a minute, no cap on iterations or duration."""

    maxIterations: int | str | None = None  # noqa: N815
    maxDuration: str | None = None  # noqa: N815
    interval: str = "PT1M"


class LoopUntilProps(Props):
    condition: str | bool
    failOnMaxReached: bool | str = False  # noqa: N815
    checkFrequency: CheckFrequency = Field(default_factory=CheckFrequency)  # noqa: N815


@register(
    "io.kestra.plugin.core.flow.LoopUntil",
    aliases=("io.kestra.plugin.core.flow.WaitFor", "WaitFor"),  # WaitFor: its name before Kestra 0.23
    props=LoopUntilProps,
    flowable=True,
    branches=("tasks", "errors"),
)
class LoopUntil:
    """Runs ``tasks`` again every ``checkFrequency.interval`` until ``condition`` is true."""


# --- runnable tasks --------------------------------------------------------------------------------


class EchoProps(Props):
    format: str
    level: Level = "INFO"


@register(
    "io.kestra.plugin.core.debug.Echo",
    aliases=("io.kestra.core.tasks.debugs.Echo",),
    props=EchoProps,
)
def run_echo(props: EchoProps, ctx: RunContext) -> dict[str, Any]:
    """Deprecated in Kestra in favour of Log; logs ``format`` at ``level``."""
    ctx.log(props.level, props.format)
    return {}


class LabelsProps(Props):
    labels: dict[str, Any] | list[dict[str, Any]] | str  # a string holds JSON (``"{{ inputs.json }}"``)


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@register(
    "io.kestra.plugin.core.execution.Labels",
    aliases=("io.kestra.core.tasks.executions.Labels",),
    props=LabelsProps,
)
def run_labels(props: LabelsProps, ctx: RunContext) -> dict[str, Any]:

    raw = props.labels
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise StepError(f"labels: not a JSON map or list: {exc}") from exc
    new = label_map(raw)
    if not new:
        raise StepError("labels: give a map or a list of {key, value}")
    if any(key.startswith("system.") for key in new):
        raise StepError("labels: system labels cannot be set by a task")
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=ctx.execution_id)
        labels = {**execution.labels, **{k: _label_text(v) for k, v in new.items()}}
        Execution.objects.filter(pk=execution.pk).update(labels=labels)
    return {}


class ResumeProps(Props):
    executionId: str | None = None  # noqa: N815
    namespace: str | None = None
    flowId: str | None = None  # noqa: N815
    inputs: dict[str, Any] = Field(default_factory=dict)


@register(
    "io.kestra.plugin.core.execution.Resume",
    aliases=("io.kestra.core.tasks.executions.Resume",),
    props=ResumeProps,
)
def run_resume(props: ResumeProps, ctx: RunContext) -> dict[str, Any]:
    """Resumes a PAUSED execution (by default this one), with ``inputs`` for its Pause's ``onResume``."""
    target = Execution.objects.filter(pk=props.executionId or ctx.execution_id).first()
    if target is None:
        raise StepError(f"execution '{props.executionId}' not found")
    if (props.namespace and props.namespace != target.namespace) or (
        props.flowId and props.flowId != target.flow_id
    ):
        raise StepError(f"execution '{target.pk}' is not an execution of {props.namespace}.{props.flowId}")
    resumed = ctx.resume_execution(str(target.pk), props.inputs)
    if not resumed:
        raise StepError(f"execution '{target.pk}' is {target.state}, not PAUSED")
    return {}


# --- namespace key-value state (Kestra's deprecated state.* tasks) -------------------------------------


class StateProps(Props):
    name: str = "default"
    namespace: bool | str = False  # share across the namespace instead of one flow
    taskrunValue: bool | str = True  # noqa: N815 (isolate per iteration value)


def _state_key(props: StateProps, ctx: RunContext) -> tuple[str, str]:

    run = TaskRun.objects.select_related("execution").get(pk=ctx.taskrun_id)
    execution = run.execution
    scope = "" if is_truthy(props.namespace) else f"{execution.flow_id}/"
    value = run.parent.value if run.value is None and run.parent_id else run.value
    suffix = f"/{value}" if is_truthy(props.taskrunValue) and value is not None else ""
    return execution.namespace, f"states/{scope}{props.name}{suffix}"


def _current(namespace: str, key: str) -> Any:

    row = KeyValue.objects.filter(namespace=namespace, key=key).first()
    if row is None or (row.expires is not None and row.expires <= timezone.now()):
        return None
    return row


class StateSetProps(StateProps):
    data: dict[str, Any] = Field(default_factory=dict)


@register(
    "io.kestra.plugin.core.state.Set",
    aliases=("io.kestra.core.tasks.states.Set",),
    props=StateSetProps,
)
def run_state_set(props: StateSetProps, ctx: RunContext) -> dict[str, Any]:
    """Merges ``data`` into the state (new keys added, existing ones replaced)."""

    namespace, key = _state_key(props, ctx)
    with transaction.atomic():
        row, _ = KeyValue.objects.select_for_update().get_or_create(namespace=namespace, key=key)
        current = row.value if isinstance(row.value, dict) and not _expired(row) else {}
        row.value = {**current, **props.data}
        row.expires = None
        row.save()
    return {"count": len(row.value), "key": f"{namespace}/{key}"}


def _expired(row: Any) -> bool:
    return row.expires is not None and row.expires <= timezone.now()


class StateGetProps(StateProps):
    errorOnMissing: bool | str = False  # noqa: N815


@register(
    "io.kestra.plugin.core.state.Get",
    aliases=("io.kestra.core.tasks.states.Get",),
    props=StateGetProps,
)
def run_state_get(props: StateGetProps, ctx: RunContext) -> dict[str, Any]:
    namespace, key = _state_key(props, ctx)
    row = _current(namespace, key)
    if row is None and is_truthy(props.errorOnMissing):
        raise StepError(f"state '{props.name}' not found")
    data = row.value if row is not None else {}
    return {"count": len(data), "data": data}


class StateDeleteProps(StateProps):
    errorOnMissing: bool | str = False  # noqa: N815


@register(
    "io.kestra.plugin.core.state.Delete",
    aliases=("io.kestra.core.tasks.states.Delete",),
    props=StateDeleteProps,
)
def run_state_delete(props: StateDeleteProps, ctx: RunContext) -> dict[str, Any]:

    namespace, key = _state_key(props, ctx)
    deleted, _ = KeyValue.objects.filter(namespace=namespace, key=key).delete()
    if not deleted and is_truthy(props.errorOnMissing):
        raise StepError(f"state '{props.name}' not found")
    return {"deleted": bool(deleted)}


# --- log.Fetch -------------------------------------------------------------------------------------


class FetchProps(Props):
    executionId: str | None = None  # noqa: N815
    namespace: str | None = None
    flowId: str | None = None  # noqa: N815
    tasksId: list[str] = Field(default_factory=list)  # noqa: N815
    level: Level = "INFO"


_FETCH_LIMIT = 10_000


@register(
    "io.kestra.plugin.core.log.Fetch",
    aliases=("io.kestra.core.tasks.log.Fetch",),
    props=FetchProps,
)
def run_fetch(props: FetchProps, ctx: RunContext) -> dict[str, Any]:
    """Log lines of an execution (this one by default) at ``level`` or above, optionally of some tasks.

    Kestra writes them to an internal-storage file; we return them inline (``logs``) with ``size`` and a
    ``uri`` naming the query, capped at 10,000 lines.
    """

    execution_id = props.executionId or ctx.execution_id
    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None:
        raise StepError(f"execution '{execution_id}' not found")
    if (props.namespace and props.namespace != execution.namespace) or (
        props.flowId and props.flowId != execution.flow_id
    ):
        raise StepError(f"execution '{execution_id}' is not an execution of {props.namespace}.{props.flowId}")
    levels = LEVELS[LEVELS.index(props.level) :]
    lines = LogLine.objects.filter(execution=execution, level__in=levels).select_related("taskrun")
    if props.tasksId:
        lines = lines.filter(taskrun__task_id__in=props.tasksId)
    logs = [
        {
            "timestamp": line.timestamp.isoformat().replace("+00:00", "Z"),
            "level": line.level,
            "taskId": line.taskrun.task_id if line.taskrun else None,
            "message": line.message,
        }
        for line in lines.order_by("id")[:_FETCH_LIMIT]
    ]
    query = f"?tasksId={','.join(props.tasksId)}" if props.tasksId else ""
    return {"size": len(logs), "uri": f"portico://executions/{execution.pk}/logs{query}", "logs": logs}
