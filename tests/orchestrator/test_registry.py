"""Task type registry and the core task types, run with a plain recording context."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel, ConfigDict

from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.task_api import StepError, lookup


@dataclass
class RecordingContext:
    """What the engine gives a task: here log lines and sleeps are just recorded."""

    execution_id: str = "e"
    taskrun_id: str = "tr"
    task_id: str = "t"
    attempt: int = 1
    lines: list[tuple[str, str]] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def log(self, level: str, message: str) -> None:
        self.lines.append((level, message))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def run(type_name: str, props: dict) -> tuple[dict, RecordingContext]:
    task_type = lookup(type_name)
    ctx = RecordingContext()
    return task_type.run(task_type.validate_props(props), ctx), ctx


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("io.kestra.plugin.core.log.Log", "io.kestra.plugin.core.log.Log"),
        ("io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Log"),
        ("Log", "io.kestra.plugin.core.log.Log"),
        ("io.kestra.plugin.core.debug.Return", "io.kestra.plugin.core.debug.Return"),
        ("io.kestra.core.tasks.debugs.Return", "io.kestra.plugin.core.debug.Return"),
        ("Return", "io.kestra.plugin.core.debug.Return"),
        ("OutputValues", "io.kestra.plugin.core.output.OutputValues"),
        ("io.kestra.core.tasks.executions.Fail", "io.kestra.plugin.core.execution.Fail"),
        ("Fail", "io.kestra.plugin.core.execution.Fail"),
        ("Sleep", "io.kestra.plugin.core.flow.Sleep"),
        ("io.kestra.core.tasks.flows.Sequential", "io.kestra.plugin.core.flow.Sequential"),
    ],
)
def test_it_finds_types_by_full_name_old_name_and_alias(name: str, canonical: str) -> None:
    assert lookup(name).name == canonical


@pytest.mark.parametrize(
    "name", ["io.kestra.plugin.core.log.Lgo", "log", "", "io.kestra.plugin.core.flow.Template"]
)
def test_it_returns_none_for_unknown_names(name: str) -> None:
    assert lookup(name) is None


def test_it_refuses_short_aliases_claimed_by_two_types() -> None:
    class Props(BaseModel):
        model_config = ConfigDict(extra="forbid")

    try:
        task_api.register("tests.registry.one.Twin", props=Props)(lambda props, ctx: {})
        assert lookup("Twin").name == "tests.registry.one.Twin"
        task_api.register("tests.registry.two.Twin", props=Props)(lambda props, ctx: {})
        assert lookup("Twin") is None
        assert lookup("tests.registry.one.Twin").name == "tests.registry.one.Twin"
    finally:
        task_api.unregister("tests.registry.one.Twin")
        task_api.unregister("tests.registry.two.Twin")
    assert lookup("tests.registry.one.Twin") is None


def test_it_describes_flowables() -> None:
    sequential = lookup("Sequential")
    assert sequential.flowable
    assert sequential.run is None
    assert sequential.branches == ("tasks", "errors", "finally")


def test_it_serves_json_schema_from_the_props_model() -> None:
    schema = task_api.json_schema("Log")
    assert schema["title"] == "io.kestra.plugin.core.log.Log"
    assert schema["required"] == ["message"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["level"]["default"] == "INFO"
    assert task_api.json_schema("Nope") is None


def test_log_writes_one_line_per_message() -> None:
    outputs, ctx = run("Log", {"message": ["a", "b"], "level": "WARN"})
    assert outputs == {}
    assert ctx.lines == [("WARN", "a"), ("WARN", "b")]
    _, ctx = run("Log", {"message": "hello"})
    assert ctx.lines == [("INFO", "hello")]


def test_return_outputs_its_value() -> None:
    assert run("Return", {"format": "42"})[0] == {"value": "42"}


def test_output_values_outputs_its_values() -> None:
    assert run("OutputValues", {"values": {"a": "1", "b": "2"}})[0] == {"values": {"a": "1", "b": "2"}}


def test_fail_raises_a_retryable_step_error() -> None:
    # Not permanent: Kestra retries a Fail task under a retry policy (orchestrator/retries.py).
    with pytest.raises(StepError) as caught:
        run("Fail", {})
    assert (caught.value.message, caught.value.permanent) == ("Task failure", False)
    with pytest.raises(StepError, match="^boom$"):
        run("Fail", {"errorMessage": "boom"})


@pytest.mark.parametrize("condition", ["false", "False", "0", "-0", "", " "])
def test_fail_with_a_false_condition_succeeds(condition: str) -> None:
    assert run("Fail", {"condition": condition})[0] == {}


def test_fail_with_a_true_condition_logs_and_fails() -> None:
    task_type = lookup("Fail")
    ctx = RecordingContext()
    with pytest.raises(StepError, match="^nope$"):
        task_type.run(task_type.validate_props({"condition": "true", "errorMessage": "nope"}), ctx)
    assert ctx.lines == [("ERROR", "nope")]


def test_sleep_sleeps_through_the_context() -> None:
    outputs, ctx = run("Sleep", {"duration": "PT1.5S"})
    assert outputs == {}
    assert ctx.slept == [1.5]
    assert ctx.lines == [("INFO", "Waiting for PT1.5S")]


def test_rendered_props_that_do_not_fit_are_a_permanent_step_error() -> None:
    with pytest.raises(StepError) as caught:
        lookup("Log").validate_props({"message": "x", "level": "LOUD"})
    assert caught.value.permanent
    assert caught.value.message.startswith("invalid properties for Log: level:")
    with pytest.raises(StepError, match="duration"):
        lookup("Sleep").validate_props({"duration": "soon"})


def test_step_error_can_be_transient() -> None:
    assert StepError("later", permanent=False).permanent is False
