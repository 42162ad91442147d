"""Two task types, written against Portico's task API only (``orchestrator.flowmodel.task_api``).

* ``io.example.text.Reverse``: outputs ``value``, ``text`` reversed; logs what it did.
* ``io.example.text.ExampleFail``: fails with ``message``; ``retryable`` lets the task's ``retry`` try again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.flowmodel.task_api import RunContext, StepError, register


class Props(BaseModel):
    # Unknown properties are refused at load with file:line:field, as for every built-in type.
    model_config = ConfigDict(extra="forbid")


class ReverseProps(Props):
    text: str = Field(max_length=10_000)
    upper: bool = False


@register("io.example.text.Reverse", props=ReverseProps)
def run_reverse(props: ReverseProps, ctx: RunContext) -> dict[str, Any]:
    value = props.text[::-1]
    value = value.upper() if props.upper else value
    ctx.log("INFO", f"reversed {len(props.text)} characters")
    return {"value": value}


class FailProps(Props):
    message: str
    retryable: bool = False


@register("io.example.text.ExampleFail", props=FailProps)
def run_fail(props: FailProps, ctx: RunContext) -> dict[str, Any]:
    raise StepError(props.message, permanent=not props.retryable)
