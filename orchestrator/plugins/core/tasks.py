"""Kestra's core task types: Log, Return, OutputValues, Fail, Sleep and Sequential.

Property names, defaults and outputs follow Kestra's own plugins so that flows written for Kestra run
unchanged; each pydantic model is the single declaration of a type's properties.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.flowmodel.templating import is_truthy

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


# Kestra's TruthUtils: these rendered strings (and null) are false, everything else true. We also
# compare case-insensitively so a Python-style "False" never counts as true.
class Props(BaseModel):
    model_config = ConfigDict(extra="forbid")


def refused(*names: str) -> Any:
    """A validator refusing ``names`` when a flow sets them: valid Kestra properties whose behaviour
    Portico lacks are reported "not supported yet" at load instead of being accepted and ignored."""

    def check(cls: type, value: Any) -> Any:
        if value is not None:
            raise ValueError(NOT_SUPPORTED)
        return value

    return field_validator(*names)(classmethod(check))  # type: ignore[arg-type]


class LogProps(Props):
    message: str | list[str]
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = "INFO"


@register(
    "io.kestra.plugin.core.log.Log",
    aliases=("io.kestra.core.tasks.log.Log",),
    props=LogProps,
)
def run_log(props: LogProps, ctx: RunContext) -> dict[str, Any]:
    messages = props.message if isinstance(props.message, list) else [props.message]
    for message in messages:
        ctx.log(props.level, message)
    return {}


class ReturnProps(Props):
    format: str | None = None


@register(
    "io.kestra.plugin.core.debug.Return",
    aliases=("io.kestra.core.tasks.debugs.Return",),
    props=ReturnProps,
)
def run_return(props: ReturnProps, ctx: RunContext) -> dict[str, Any]:
    return {"value": props.format}


class OutputValuesProps(Props):
    values: dict[str, Any] = Field(default_factory=dict)


@register(
    "io.kestra.plugin.core.output.OutputValues",
    props=OutputValuesProps,
)
def run_output_values(props: OutputValuesProps, ctx: RunContext) -> dict[str, Any]:
    return {"values": props.values}


class FailProps(Props):
    condition: str | bool | None = None
    errorMessage: str = "Task failure"  # noqa: N815 (Kestra's property name)


@register(
    "io.kestra.plugin.core.execution.Fail",
    aliases=("io.kestra.core.tasks.executions.Fail",),
    props=FailProps,
)
def run_fail(props: FailProps, ctx: RunContext) -> dict[str, Any]:
    """Without ``condition`` always fails; with it, fails only when it renders truthy (as Kestra does,
    logging ``errorMessage`` at ERROR first)."""
    if props.condition is not None:
        if not is_truthy(props.condition):
            return {}
        ctx.log("ERROR", props.errorMessage)
    # Not permanent: Kestra retries a Fail task under a retry policy (its condition may change).
    raise StepError(props.errorMessage, permanent=False)


class SleepProps(Props):
    duration: timedelta

    @field_validator("duration", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> timedelta:
        return parse_duration(value)


@register(
    "io.kestra.plugin.core.flow.Sleep",
    props=SleepProps,
)
def run_sleep(props: SleepProps, ctx: RunContext) -> dict[str, Any]:
    """Logs what it waits for at INFO first, as Kestra's Sleep does (``log.Fetch`` counts that line)."""
    ctx.log("INFO", f"Waiting for {format_duration(props.duration)}")
    ctx.sleep(props.duration.total_seconds())
    return {}


class SequentialProps(Props):
    """No own properties: ``tasks``, ``errors`` and ``finally`` are branches the spec parses."""


@register(
    "io.kestra.plugin.core.flow.Sequential",
    aliases=("io.kestra.core.tasks.flows.Sequential",),
    props=SequentialProps,
    flowable=True,
    branches=("tasks", "errors", "finally"),
)
class Sequential:
    """Runs ``tasks`` one after another; the engine walks the branches."""
