"""``logToFile``: a task's log lines go to a file in internal storage, masked, instead of the log table."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.executor.retries import attempts
from orchestrator.flowmodel import storage
from orchestrator.state.models import LogLine, State

FLOW = """
id: logged
namespace: tests.logfile
inputs:
  - id: token
    type: SECRET
tasks:
  - id: quiet
    type: io.kestra.plugin.core.log.Log
    logToFile: true
    message:
      - "Hello World!"
      - "token is {{ inputs.token }}"
  - id: loud
    type: io.kestra.plugin.core.log.Log
    message: "in the table"
"""


@pytest.mark.django_db(transaction=True)
def test_log_to_file_puts_masked_lines_in_storage_not_the_table(run_flow: Any) -> None:
    execution = run_flow(FLOW, {"token": "hunter2-very-secret"})
    assert execution.state == State.SUCCESS

    quiet = execution.task_runs.get(task_id="quiet")
    assert not LogLine.objects.filter(taskrun=quiet).exists()
    assert list(LogLine.objects.filter(taskrun__task_id="loud").values_list("message", flat=True)) == [
        "in the table"
    ]
    running = [entry for entry in quiet.history if entry["state"] == State.RUNNING]
    uri = running[-1]["logFile"]
    assert uri.startswith(storage.SCHEME) and uri.endswith(".txt")
    assert f"/executions/{execution.pk}/tasks/quiet/" in uri
    lines = storage.read_text(execution, uri).splitlines()
    assert [line.split(maxsplit=2)[1:] for line in lines] == [
        ["INFO", "Hello World!"],
        ["INFO", "token is " + "*" * len("hunter2-very-secret")],
    ]
    assert "hunter2" not in storage.read_text(execution, uri)
    assert [a["state"] for a in attempts(quiet)] == ["SUCCESS"]


@pytest.mark.django_db(transaction=True)
def test_log_to_file_false_keeps_lines_in_the_table(run_flow: Any) -> None:
    text = FLOW.replace("logToFile: true", "logToFile: false")
    execution = run_flow(text, {"token": "hunter2-very-secret"})

    quiet = execution.task_runs.get(task_id="quiet")
    assert LogLine.objects.filter(taskrun=quiet).count() == 2
    assert all("logFile" not in entry for entry in quiet.history)
