"""Operator actions end to end: pause/resume, kill, restart and replay with a real worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from orchestrator.executor import control, walker
from orchestrator.flowmodel import input_types, spec
from orchestrator.state.models import TERMINAL, Execution, KeyValue, State, TaskRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def runs_of(execution: Execution) -> dict[str, TaskRun]:
    return {run.task_id: run for run in execution.task_runs.all()}


def until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def finished(execution: Execution, timeout: float = 20.0) -> Execution:
    def done() -> bool:
        execution.refresh_from_db()
        return execution.state in TERMINAL

    until(done, timeout, f"execution {execution.pk} terminal (is {execution.state})")
    return execution


def start(text: str, raw: dict[str, Any] | None = None) -> Execution:
    flow = spec.parse_flow(text, file="test.yml")
    return walker.start_execution(flow, input_types.resolve_inputs(flow, raw or {}))


APPROVAL = """
id: approval
namespace: tests.control
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: prepared
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        defaults: no reason given
  - id: after
    type: io.kestra.plugin.core.output.OutputValues
    values:
      approved: "{{ outputs.pause.onResume.approved }}"
      reason: "{{ outputs.pause.onResume.reason }}"
"""


def test_it_pauses_until_resumed_with_validated_inputs(run_flow: Any) -> None:
    execution = run_flow(APPROVAL)

    assert execution.state == State.PAUSED
    assert {t: r.state for t, r in runs_of(execution).items()} == {"before": "SUCCESS", "pause": "PAUSED"}
    form = control.resume_form(execution.pk)
    assert [(i.id, i.type, i.required) for i in form] == [
        ("approved", "BOOL", True),
        ("reason", "STRING", True),
    ]
    assert runs_of(execution)["pause"].worker_task_id == ""  # no worker holds a pause

    with pytest.raises(input_types.InputsInvalid) as refused:
        control.resume(execution.pk, inputs={"approved": "perhaps"})
    assert set(refused.value.errors) == {"approved"}
    with pytest.raises(input_types.InputsInvalid) as missing:
        control.resume(execution.pk, inputs={})
    assert missing.value.errors == {"approved": "is required"}
    execution.refresh_from_db()
    assert execution.state == State.PAUSED

    assert control.resume(execution.pk, inputs={"approved": "true"}, acting_user="alice") is True
    assert control.resume(execution.pk, inputs={"approved": "true"}) is False  # a second click does nothing
    assert control.resume_form(execution.pk) == []

    execution = finished(execution)
    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert runs["pause"].outputs == {"onResume": {"approved": True, "reason": "no reason given"}}
    assert runs["after"].outputs["values"]["reason"] == "no reason given"
    assert runs["after"].outputs["values"]["approved"] in ("true", "True")
    assert [h["state"] for h in runs["pause"].history] == [
        "CREATED",
        "RUNNING",
        "PAUSED",
        "RUNNING",
        "SUCCESS",
    ]
    assert any(h.get("reason") == "resumed by alice" for h in execution.history)


def test_it_resumes_by_itself_after_the_pause_duration(run_flow: Any) -> None:
    execution = run_flow(
        """
id: delayed
namespace: tests.control
inputs:
  - id: wait
    type: DURATION
    defaults: PT0.3S
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: "{{ inputs.wait }}"
    tasks:
      - id: inside
        type: io.kestra.plugin.core.log.Log
        message: after the pause
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: done
"""
    )
    assert execution.state == State.PAUSED
    assert runs_of(execution)["pause"].wake_at is not None

    execution = finished(execution)

    assert execution.state == State.SUCCESS
    assert {t: r.state for t, r in runs_of(execution).items()} == {
        "pause": "SUCCESS",
        "inside": "SUCCESS",
        "last": "SUCCESS",
    }


def test_it_warns_when_a_pause_with_behavior_warn_elapses(run_flow: Any) -> None:
    execution = run_flow(
        """
id: warn
namespace: tests.control
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.2S
    behavior: WARN
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: done
"""
    )

    execution = finished(execution)

    assert execution.state == State.WARNING
    assert {t: r.state for t, r in runs_of(execution).items()} == {"pause": "WARNING", "last": "SUCCESS"}


def test_it_fails_a_pause_that_times_out(run_flow: Any) -> None:
    execution = run_flow(
        """
id: timeout
namespace: tests.control
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.3S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: never
"""
    )
    assert execution.state == State.PAUSED

    execution = finished(execution)

    assert execution.state == State.FAILED
    runs = runs_of(execution)
    assert list(runs) == ["pause"]
    assert runs["pause"].state == State.FAILED
    assert "timeout" in runs["pause"].error


SLOW = """
id: slow
namespace: tests.control
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: quick
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: not reached
"""


def test_it_kills_a_running_execution_within_seconds(celery_worker: Any) -> None:
    execution = start(SLOW)
    until(lambda: TaskRun.objects.filter(execution=execution, task_id="nap", state=State.RUNNING).exists())
    killed_at = time.monotonic()

    assert control.kill(execution.pk, acting_user="bob") is True
    assert control.kill(execution.pk) is False  # already being killed

    execution = finished(execution, timeout=10)
    assert time.monotonic() - killed_at < 5
    assert execution.state == State.KILLED
    runs = runs_of(execution)
    assert {t: r.state for t, r in runs.items()} == {"first": "SUCCESS", "nap": "KILLED"}
    assert [h["state"] for h in runs["nap"].history][-2:] == ["KILLING", "KILLED"]
    assert runs["nap"].worker_task_id  # the Celery delivery that was revoked


def test_it_kills_a_paused_execution(run_flow: Any) -> None:
    execution = run_flow(APPROVAL)
    assert execution.state == State.PAUSED

    assert control.kill(execution.pk) is True

    execution.refresh_from_db()
    assert execution.state == State.KILLED
    assert runs_of(execution)["pause"].state == State.KILLED
    assert control.resume(execution.pk, inputs={"approved": True}) is False


GATED = """
id: gated
namespace: tests.control
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: gate
    type: io.kestra.plugin.core.state.Get
    name: gate
    errorOnMissing: true
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "open={{ outputs.gate.data.open }}"
errors:
  - id: on-error
    type: io.kestra.plugin.core.log.Log
    message: the gate was closed
"""


def test_it_restarts_from_the_failed_task_keeping_earlier_outputs(run_flow: Any) -> None:
    execution = run_flow(GATED)
    assert execution.state == State.FAILED
    first = runs_of(execution)["first"]
    assert runs_of(execution)["gate"].error == "state 'gate' not found"
    assert "on-error" in runs_of(execution)

    KeyValue.objects.create(namespace="tests.control", key="states/gated/gate", value={"open": "yes"})
    assert control.restart(execution.pk, acting_user="carol") is True
    assert control.restart(execution.pk) is False  # already restarted

    execution = finished(execution)
    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert (runs["first"].pk, runs["first"].attempts, runs["first"].outputs) == (
        first.pk,
        1,
        {"value": str(execution.pk)},
    )
    gate = runs["gate"]
    assert gate.attempts == 2
    states = [h["state"] for h in gate.history]
    assert states == ["CREATED", "RUNNING", "FAILED", "RESTARTED", "QUEUED", "RUNNING", "SUCCESS"]
    assert "state 'gate' not found" in gate.history[3]["reason"]
    assert runs["last"].outputs == {"value": "open=yes"}
    assert "on-error" not in runs  # the errors branch ran for the failed attempt only
    assert [h["state"] for h in execution.history][-3:] == ["RESTARTED", "RUNNING", "SUCCESS"]


def test_it_refuses_to_restart_a_successful_execution(run_flow: Any) -> None:
    execution = run_flow(SLOW.replace("PT30S", "PT0S"))
    assert execution.state == State.SUCCESS

    assert control.restart(execution.pk) is False
    with pytest.raises(control.ControlError, match="not found"):
        control.restart("00000000-0000-0000-0000-000000000000")


def test_it_replays_from_a_task_as_a_new_execution(run_flow: Any) -> None:
    text = """
id: replayed
namespace: tests.control
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "a of {{ execution.id }}"
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: "b of {{ execution.id }}"
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: "c of {{ execution.id }} after {{ outputs.b.value }}"
"""
    source = run_flow(text)
    assert source.state == State.SUCCESS

    replay = control.replay(source.pk, "c", acting_user="dave")
    replay = finished(replay)

    assert replay.pk != source.pk and replay.original_id == source.pk
    assert replay.state == State.SUCCESS
    runs = runs_of(replay)
    assert runs["a"].outputs == {"value": f"a of {source.pk}"}  # copied
    assert runs["b"].outputs == {"value": f"b of {source.pk}"}  # copied
    assert runs["c"].outputs == {"value": f"c of {replay.pk} after b of {source.pk}"}  # ran again
    assert runs["b"].parent_id == runs["group"].pk
    assert source.task_runs.count() == 4  # the source is untouched

    whole = finished(control.replay(source.pk))
    assert runs_of(whole)["a"].outputs == {"value": f"a of {whole.pk}"}
    with pytest.raises(control.ControlError, match="task 'zz' is not in flow"):
        control.replay(source.pk, "zz")


def race(action: Callable[[], bool], times: int = 3) -> list[bool]:
    """Run ``action`` in ``times`` threads released together (each with its own DB connection)."""
    barrier = threading.Barrier(times)
    results: list[Any] = []

    def click() -> None:
        barrier.wait()
        try:
            results.append(action())
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_it_resumes_once_when_resumes_race(run_flow: Any) -> None:
    execution = run_flow(APPROVAL)

    results = race(lambda: control.resume(execution.pk, inputs={"approved": "false"}))

    assert sorted(results) == [False, False, True]
    execution = finished(execution)
    assert execution.state == State.SUCCESS
    assert execution.task_runs.filter(task_id="after").count() == 1


def test_it_restarts_once_when_restarts_race(run_flow: Any) -> None:
    execution = run_flow(GATED)
    assert execution.state == State.FAILED
    KeyValue.objects.create(namespace="tests.control", key="states/gated/gate", value={"open": "race"})

    results = race(lambda: control.restart(execution.pk))

    assert sorted(results) == [False, False, True]
    execution = finished(execution)
    assert execution.state == State.SUCCESS
    assert runs_of(execution)["gate"].attempts == 2
    assert execution.task_runs.filter(task_id="last").count() == 1


def test_it_kills_once_when_kills_race(run_flow: Any) -> None:
    execution = run_flow(APPROVAL)

    results = race(lambda: control.kill(execution.pk))

    assert sorted(results) == [False, False, True]
    execution.refresh_from_db()
    assert execution.state == State.KILLED
    assert [h["state"] for h in execution.history].count("KILLING") == 1


def test_it_wakes_an_overdue_pause_whose_timer_was_lost(run_flow: Any) -> None:
    from django.utils import timezone

    from orchestrator.executor import waiting

    execution = run_flow(
        """
id: lost-timer
namespace: tests.control
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1H
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: done
"""
    )
    assert execution.state == State.PAUSED
    assert waiting.wake_due() == 0  # not due yet
    TaskRun.objects.filter(execution=execution, task_id="pause").update(wake_at=timezone.now())

    assert waiting.wake_due() == 1
    assert waiting.wake_due() == 0  # idempotent

    execution = finished(execution)
    assert execution.state == State.SUCCESS


def test_it_resumes_kills_and_replays_from_the_command_line(run_flow: Any) -> None:
    import io
    import json

    from django.core.management import call_command

    execution = run_flow(APPROVAL)
    errors = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("execution", "resume", str(execution.pk), "--input", "approved=perhaps", stderr=errors)
    assert errors.getvalue().startswith("input 'approved': ")

    out = io.StringIO()
    call_command("execution", "resume", str(execution.pk), "--input", "approved=true", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["id"], printed["changed"]) == (str(execution.pk), True)
    assert finished(execution).state == State.SUCCESS

    with pytest.raises(SystemExit):
        call_command("execution", "kill", str(execution.pk), stdout=io.StringIO())  # already ended
    out = io.StringIO()
    call_command("execution", "replay", str(execution.pk), "--from", "after", stdout=out)
    replayed = Execution.objects.get(pk=json.loads(out.getvalue())["id"])
    assert replayed.original_id == execution.pk
    assert finished(replayed).state == State.SUCCESS
