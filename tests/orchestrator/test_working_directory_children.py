"""A WorkingDirectory's children keep their own ``runIf``, ``timeout``, ``retry``, ``allowFailure`` and
``allowWarning``, applied inline on the directory's worker (orchestrator/working_directory.py)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.executor import control, retries, walker
from orchestrator.flowmodel import spec
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from orchestrator.worker import working_directory
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def storage_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    return settings.PORTICO_STORAGE_DIR


def run_of(execution: Execution, task_id: str) -> TaskRun:
    return TaskRun.objects.get(execution=execution, task_id=task_id)


def directory(children: str, *, extra: str = "") -> str:
    """A flow whose only task is a WorkingDirectory ``wd`` with ``children`` (YAML indented 6)."""
    return f"""\
id: wd-children
namespace: tests.wd
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
{extra}    tasks:
{children}"""


def test_it_skips_a_child_whose_run_if_is_false(run_flow: Any) -> None:
    execution = run_flow(
        directory("""\
      - id: skipped
        type: io.kestra.plugin.core.execution.Fail
        runIf: "{{ 1 == 2 }}"
      - id: kept
        type: io.kestra.plugin.core.debug.Return
        runIf: "{{ 1 == 1 }}"
        format: ran
""")
    )

    assert execution.state == State.SUCCESS
    assert run_of(execution, "skipped").state == State.SKIPPED
    assert run_of(execution, "skipped").history[-1]["reason"] == "runIf is false: {{ 1 == 2 }}"
    assert run_of(execution, "kept").outputs == {"value": "ran"}
    assert run_of(execution, "wd").state == State.SUCCESS


def test_it_fails_a_child_whose_run_if_cannot_be_rendered(run_flow: Any) -> None:
    execution = run_flow(
        directory("""\
      - id: broken
        type: io.kestra.plugin.core.debug.Return
        runIf: "{{ nowhere.to.be.found }}"
        format: x
""")
    )

    assert execution.state == State.FAILED
    broken = run_of(execution, "broken")
    assert broken.state == State.FAILED and broken.error.startswith("cannot evaluate runIf")


def test_it_times_out_a_child_like_a_worker_task(run_flow: Any) -> None:
    started = time.monotonic()
    execution = run_flow(
        directory("""\
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT20S
        timeout: PT0.5S
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: x
"""),
        timeout=15,
    )

    assert execution.state == State.FAILED
    assert time.monotonic() - started < 10  # nowhere near the 20 s sleep
    nap = run_of(execution, "nap")
    assert (nap.state, nap.error) == (State.FAILED, "Timeout after PT0.5S")
    assert LogLine.objects.filter(taskrun=nap, level="ERROR", message="Timeout after PT0.5S").exists()
    assert not TaskRun.objects.filter(execution=execution, task_id="never").exists()
    assert run_of(execution, "wd").attempts == 1


def test_a_timed_out_child_allowed_to_fail_makes_the_directory_warning(run_flow: Any) -> None:
    execution = run_flow(
        directory("""\
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT20S
        timeout: PT0.3S
        allowFailure: true
      - id: next
        type: io.kestra.plugin.core.debug.Return
        format: went on
"""),
        timeout=15,
    )

    assert execution.state == State.WARNING
    assert run_of(execution, "wd").state == State.WARNING
    assert run_of(execution, "nap").state == State.FAILED
    assert run_of(execution, "next").outputs == {"value": "went on"}


def test_it_retries_a_child_inline_in_the_same_directory(run_flow: Any) -> None:
    execution = run_flow(
        directory("""\
      - id: write
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          made.txt: "before the retry"
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.attemptsCount < 2 }}"
        retry: {type: constant, interval: PT0.2S, maxAttempt: 3}
      - id: collect
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs: ["*.txt"]
""")
    )

    assert execution.state == State.SUCCESS
    flaky = run_of(execution, "flaky")
    assert [a["state"] for a in retries.attempts(flaky)] == ["FAILED", "FAILED", "SUCCESS"]
    assert flaky.attempts == 3 and flaky.worker_task_id == ""  # never went through the broker
    first, second = retries.attempts(flaky)[:2]
    waited = datetime.fromisoformat(second["start"]) - datetime.fromisoformat(first["end"])
    assert waited.total_seconds() >= 0.19
    # The directory itself ran once, and the file written before the retries was still there.
    wd = run_of(execution, "wd")
    assert wd.attempts == 1 and wd.state == State.SUCCESS
    assert sorted(run_of(execution, "collect").outputs["uris"]) == ["made.txt"]
    assert LogLine.objects.filter(taskrun=flaky, level="WARN", message__contains="attempt 1 failed").exists()


def test_it_gives_up_on_a_child_after_max_attempt_and_fails_the_directory(run_flow: Any) -> None:
    execution = run_flow(
        directory("""\
      - id: hopeless
        type: io.kestra.plugin.core.execution.Fail
        retry: {type: constant, interval: PT0.05S, maxAttempt: 2}
""")
    )

    assert execution.state == State.FAILED
    hopeless = run_of(execution, "hopeless")
    assert [a["state"] for a in retries.attempts(hopeless)] == ["FAILED", "FAILED"]
    assert run_of(execution, "wd").state == State.FAILED


def test_a_warning_child_warns_the_directory_unless_allowed(run_flow: Any) -> None:
    child = """\
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{{{ taskrun.attemptsCount == 0 }}}}"
        retry: {{type: constant, interval: PT0.05S, maxAttempt: 2, warningOnRetry: true}}
{allow}"""
    warned = run_flow(directory(child.format(allow="")))
    allowed = run_flow(directory(child.format(allow="        allowWarning: true\n")))

    assert run_of(warned, "flaky").state == State.WARNING
    assert run_of(warned, "wd").state == State.WARNING and warned.state == State.WARNING
    assert run_of(allowed, "flaky").state == State.SUCCESS
    assert run_of(allowed, "wd").state == State.SUCCESS and allowed.state == State.SUCCESS


def test_a_long_inline_retry_wait_is_capped(run_flow: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(working_directory, "MAX_INLINE_RETRY_WAIT", timedelta(seconds=0.2))
    started = time.monotonic()
    execution = run_flow(
        directory("""\
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.attemptsCount == 0 }}"
        retry: {type: constant, interval: PT1H, maxAttempt: 2}
"""),
        timeout=15,
    )

    assert execution.state == State.SUCCESS and time.monotonic() - started < 10
    assert run_of(execution, "flaky").attempts == 2


def test_killing_stops_a_child_waiting_for_its_next_attempt(celery_worker: Any) -> None:
    flow = spec.parse_flow(
        directory("""\
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        retry: {type: constant, interval: PT2M, maxAttempt: 2}
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: x
"""),
        file="t.yml",
    )
    execution = walker.start_execution(flow, {})
    deadline = time.monotonic() + 10
    while not TaskRun.objects.filter(execution=execution, task_id="flaky", state=State.RETRYING).exists():
        assert time.monotonic() < deadline, "the child never waited for a retry"
        time.sleep(0.02)
    started = time.monotonic()

    control.kill(execution.pk)
    execution = wait_for(execution, 10)

    assert execution.state == State.KILLED and time.monotonic() - started < 5
    assert run_of(execution, "flaky").state == State.KILLED
    assert run_of(execution, "wd").state == State.KILLED
    assert not TaskRun.objects.filter(execution=execution, task_id="never").exists()


def test_the_directory_timeout_ends_a_child_waiting_for_its_next_attempt(run_flow: Any) -> None:
    execution = run_flow(
        directory(
            """\
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        retry: {type: constant, interval: PT2M, maxAttempt: 2}
""",
            extra="    timeout: PT1S\n",
        ),
        timeout=15,
    )

    assert execution.state == State.FAILED
    # The watchdog fails the directory at once; its thread then ends the waiting child.
    flaky = run_of(execution, "flaky")
    deadline = time.monotonic() + 5
    while flaky.state == State.RETRYING and time.monotonic() < deadline:
        time.sleep(0.02)
        flaky.refresh_from_db()
    assert flaky.state == State.FAILED and flaky.attempts == 1
    assert flaky.error == "stopped: Timeout after PT1S"
    assert (run_of(execution, "wd").state, run_of(execution, "wd").error) == (
        State.FAILED,
        "Timeout after PT1S",
    )


def test_a_child_retried_as_a_new_execution_replaces_the_whole_execution(run_flow: Any) -> None:
    first = run_flow("""\
id: wd-new-execution
namespace: tests.wd
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: broken
        retry: {behavior: CREATE_NEW_EXECUTION, type: constant, interval: PT0.1S, maxAttempt: 2}
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: unreachable
    errors:
      - id: handler
        type: io.kestra.plugin.core.debug.Return
        format: handled
    finally:
      - id: cleanup
        type: io.kestra.plugin.core.debug.Return
        format: cleaned
""")

    assert first.state == State.RETRIED
    assert run_of(first, "fail").state == State.RETRIED
    assert run_of(first, "wd").state == State.RETRIED
    assert not TaskRun.objects.filter(execution=first, task_id__in=["never", "handler", "cleanup"]).exists()
    deadline = time.monotonic() + 20
    while True:
        chain = list(Execution.objects.filter(flow_id="wd-new-execution").order_by("created"))
        if len(chain) == 2 and chain[-1].state in (State.FAILED, State.SUCCESS):
            break
        assert time.monotonic() < deadline, [(e.state, e.original_id) for e in chain]
        time.sleep(0.05)
    second = chain[1]
    assert second.original_id == first.pk
    # The policy's second and last attempt: the child fails for good and the errors branch runs.
    assert (second.state, run_of(second, "fail").state) == (State.FAILED, State.FAILED)
    assert run_of(second, "handler").state == State.SUCCESS
    assert run_of(second, "cleanup").state == State.SUCCESS
    time.sleep(0.3)
    assert Execution.objects.filter(flow_id="wd-new-execution").count() == 2
