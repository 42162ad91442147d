"""The example plugin's own test: its run functions called with a stand-in context, no Portico server.

A plugin author can test a task without a database: ``run`` takes validated properties and any object
with the ``RunContext`` methods the task uses.
"""

from __future__ import annotations

import pytest
from portico_plugin_example.tasks import FailProps, ReverseProps, run_fail, run_reverse
from pydantic import ValidationError

from orchestrator.flowmodel.task_api import StepError


class Context:
    execution_id = taskrun_id = task_id = "t"
    attempt = 1

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def log(self, level: str, message: str) -> None:
        self.lines.append((level, message))


def test_it_reverses_and_logs() -> None:
    ctx = Context()
    assert run_reverse(ReverseProps(text="abc", upper=True), ctx) == {"value": "CBA"}
    assert ctx.lines == [("INFO", "reversed 3 characters")]


def test_it_refuses_unknown_properties() -> None:
    with pytest.raises(ValidationError):
        ReverseProps.model_validate({"text": "a", "colour": "red"})


def test_it_fails_permanently_unless_retryable() -> None:
    with pytest.raises(StepError) as caught:
        run_fail(FailProps(message="no"), Context())
    assert (caught.value.message, caught.value.permanent) == ("no", True)
    with pytest.raises(StepError) as caught:
        run_fail(FailProps(message="later", retryable=True), Context())
    assert caught.value.permanent is False
