"""Retries: the policy maths (pure) and real retries through a real worker."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.executor import retries
from orchestrator.executor.retries import RetryPolicy, delay, next_retry_at, policy_for
from orchestrator.flowmodel import spec
from orchestrator.state.models import Execution, LogLine, State
from orchestrator.worker import reconciler
from tests.conftest import wait_for

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)


def policy(**raw: Any) -> RetryPolicy:
    return RetryPolicy.from_spec(raw)


# --- pure functions ----------------------------------------------------------------------------------


def test_it_waits_a_constant_interval() -> None:
    constant = policy(type="constant", interval="PT2S", maxAttempt=3)

    assert [delay(constant, n) for n in (1, 2, 5)] == [2 * S, 2 * S, 2 * S]


def test_it_backs_off_exponentially_up_to_max_interval() -> None:
    expo = policy(type="exponential", interval="PT0.25S", maxInterval="PT1S")
    tripled = policy(type="exponential", interval="PT1S", maxInterval="PT1M", delayFactor=3)

    assert [delay(expo, n).total_seconds() for n in (1, 2, 3, 4, 10)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert [delay(tripled, n).total_seconds() for n in (1, 2, 3)] == [1.0, 3.0, 9.0]


def test_it_picks_a_random_delay_between_min_and_max() -> None:
    rand = policy(type="random", minInterval="PT0.2S", maxInterval="PT0.5S")
    rng = random.Random(4)

    delays = [delay(rand, 1, rng=rng).total_seconds() for _ in range(200)]

    assert all(0.2 <= d < 0.5 for d in delays)
    assert max(delays) - min(delays) > 0.2  # really spread, not a constant


def test_it_stops_after_max_attempt_counting_the_first_attempt() -> None:
    three = policy(type="constant", interval="PT1S", maxAttempt=3)

    after = [next_retry_at(three, attempt_number=n, first_started=T0, last_ended=T0) for n in (1, 2, 3)]

    assert after == [T0 + S, T0 + S, None]


def test_it_stops_once_the_next_attempt_would_start_after_max_duration() -> None:
    bounded = policy(type="constant", interval="PT2S", maxDuration="PT6S")

    assert next_retry_at(bounded, attempt_number=1, first_started=T0, last_ended=T0 + S) == T0 + 3 * S
    assert next_retry_at(bounded, attempt_number=2, first_started=T0, last_ended=T0 + 4 * S) == T0 + 6 * S
    assert next_retry_at(bounded, attempt_number=3, first_started=T0, last_ended=T0 + 5 * S) is None


def test_it_retries_forever_without_limits() -> None:
    endless = policy(type="constant", interval="PT1S")

    assert next_retry_at(endless, attempt_number=1000, first_started=T0, last_ended=T0) == T0 + S


def test_it_takes_the_policy_from_the_task_then_the_enclosing_flowable_then_the_flow() -> None:
    flow = spec.parse_flow(
        """
id: policies
namespace: tests.retries
retry:
  type: constant
  interval: PT9S
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: own
    type: io.kestra.plugin.core.log.Log
    message: x
    retry: {type: constant, interval: PT1S, maxAttempt: 2}
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    retry: {type: constant, interval: PT3S, maxAttempt: 4}
    tasks:
      - id: child
        type: io.kestra.plugin.core.log.Log
        message: y
  - id: plain
    type: io.kestra.plugin.core.log.Log
    message: z
"""
    )

    assert policy_for(flow, "own").interval == S
    assert policy_for(flow, "child").max_attempt == 4
    assert (policy_for(flow, "plain").interval, policy_for(flow, "plain").behavior) == (
        9 * S,
        retries.CREATE_NEW_EXECUTION,
    )


# --- through a real worker ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_retries_a_failing_task_until_it_succeeds(run_flow: Any) -> None:
    execution = run_flow(
        """
id: flaky
namespace: tests.retries
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    errorMessage: "not yet ({{ taskrun.attemptsCount }})"
    retry:
      type: constant
      interval: PT0.2S
      maxAttempt: 5
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "done"
"""
    )

    assert execution.state == State.SUCCESS
    run = execution.task_runs.get(task_id="flaky")
    assert (run.state, run.attempts) == (State.SUCCESS, 3)
    history = retries.attempts(run)
    assert [a["state"] for a in history] == ["FAILED", "FAILED", "SUCCESS"]
    assert [a["error"] for a in history] == ["not yet (0)", "not yet (1)", None]
    assert all(a["start"] <= a["end"] for a in history)
    # The constant 0.2 s interval separates each failed attempt from the next one.
    ends = [datetime.fromisoformat(a["end"]) for a in history]
    starts = [datetime.fromisoformat(a["start"]) for a in history]
    assert all(starts[i + 1] - ends[i] >= timedelta(seconds=0.19) for i in range(2))
    states = [entry["state"] for entry in execution.history]
    assert states[:2] == ["CREATED", "RUNNING"] and "RETRYING" in states and states[-1] == "SUCCESS"
    assert execution.task_runs.get(task_id="after").state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_fails_with_every_attempt_recorded_once_max_attempt_is_spent(run_flow: Any) -> None:
    execution = run_flow(
        """
id: hopeless
namespace: tests.retries
tasks:
  - id: hopeless
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
    retry:
      type: exponential
      interval: PT0.1S
      maxInterval: PT0.2S
      maxAttempt: 3
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: "alerted"
"""
    )

    assert execution.state == State.FAILED
    run = execution.task_runs.get(task_id="hopeless")
    assert (run.state, run.attempts, run.error) == (State.FAILED, 3, "broken")
    assert [a["state"] for a in retries.attempts(run)] == ["FAILED", "FAILED", "FAILED"]
    assert not execution.task_runs.filter(task_id="never").exists()
    # The errors branch runs once, after the last attempt, not after each one.
    assert execution.task_runs.get(task_id="alert").state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_marks_a_success_after_retries_as_warning_with_warning_on_retry(run_flow: Any) -> None:
    flow = """
id: warn-on-retry
namespace: tests.retries
tasks:
  - id: flaky
    type: io.kestra.plugin.core.log.Log
    message: "{{ taskrun.attemptsCount == 1 ? 'ok' : undefined_variable }}"
    {extra}
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
      warningOnRetry: true
"""
    warned = run_flow(flow.replace("{extra}", ""))
    allowed = run_flow(flow.replace("{extra}", "allowWarning: true").replace("warn-on-retry", "allowed"))

    assert warned.state == State.WARNING
    assert warned.task_runs.get().state == State.WARNING
    assert warned.task_runs.get().attempts == 2
    assert allowed.state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_applies_the_enclosing_flowable_retry_to_a_failing_child(run_flow: Any) -> None:
    execution = run_flow(
        """
id: flowable-retry
namespace: tests.retries
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    retry: {type: constant, interval: PT0.1S, maxAttempt: 2}
    tasks:
      - id: child
        type: io.kestra.plugin.core.execution.Fail
"""
    )

    assert execution.state == State.FAILED
    assert execution.task_runs.get(task_id="child").attempts == 2


@pytest.mark.django_db(transaction=True)
def test_it_does_not_retry_a_permanent_error(run_flow: Any) -> None:
    execution = run_flow(
        """
id: permanent
namespace: tests.retries
tasks:
  - id: bad
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ 'not a duration' }}"
    retry: {type: constant, interval: PT0.1S, maxAttempt: 3}
"""
    )

    assert execution.state == State.FAILED
    run = execution.task_runs.get()
    assert run.attempts == 1
    assert "invalid properties" in run.error


@pytest.mark.django_db(transaction=True)
def test_it_holds_no_worker_while_a_retry_waits(run_flow: Any) -> None:
    """Two executions share the one test worker: the second finishes while the first waits 2 s."""
    from orchestrator.executor import walker
    from orchestrator.flowmodel import input_types

    waiting = spec.parse_flow(
        """
id: waiting
namespace: tests.retries
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 1 }}"
    retry: {type: constant, interval: PT2S, maxAttempt: 2}
"""
    )
    quick = spec.parse_flow(
        "id: quick\nnamespace: tests.retries\ntasks:\n  - id: q\n    type: Return\n    format: x\n"
    )
    slow = walker.start_execution(waiting, input_types.resolve_inputs(waiting, {}))
    deadline = time.monotonic() + 10
    while not slow.task_runs.filter(state=State.RETRYING).exists():
        assert time.monotonic() < deadline, "the first attempt never failed"
        time.sleep(0.02)
    fast = wait_for(walker.start_execution(quick, {}), timeout=10)

    slow.refresh_from_db()
    assert fast.state == State.SUCCESS
    assert slow.state == State.RETRYING  # still waiting for its second attempt
    assert wait_for(slow, timeout=15).state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_retries_as_a_new_linked_execution_with_create_new_execution(run_flow: Any) -> None:
    first = run_flow(
        """
id: new-execution
namespace: tests.retries
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    retry:
      behavior: CREATE_NEW_EXECUTION
      type: constant
      interval: PT0.1S
      maxAttempt: 3
"""
    )

    assert first.state == State.RETRIED
    assert first.task_runs.get().state == State.RETRIED
    deadline = time.monotonic() + 20
    while True:
        chain = list(Execution.objects.filter(flow_id="new-execution").order_by("created"))
        if len(chain) == 3 and chain[-1].state in (State.FAILED, State.SUCCESS):
            break
        assert time.monotonic() < deadline, [(e.state, e.original_id) for e in chain]
        time.sleep(0.05)
    assert [e.state for e in chain] == [State.RETRIED, State.RETRIED, State.FAILED]
    assert [e.original_id for e in chain] == [None, chain[0].pk, chain[1].pk]
    time.sleep(0.3)  # no fourth execution appears
    assert Execution.objects.filter(flow_id="new-execution").count() == 3
    assert LogLine.objects.filter(execution=chain[-1], level="ERROR").exists()


@pytest.mark.django_db(transaction=True)
def test_it_applies_the_flow_retry_to_any_failing_task(run_flow: Any) -> None:
    execution = run_flow(
        """
id: flow-retry
namespace: tests.retries
retry:
  type: constant
  interval: PT0.1S
  maxAttempt: 2
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: fine
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount == 0 }}"
"""
    )

    assert execution.state == State.SUCCESS
    assert {r.task_id: r.attempts for r in execution.task_runs.all()} == {"ok": 1, "flaky": 2}


@pytest.mark.django_db(transaction=True)
def test_it_wakes_a_retry_whose_message_was_lost_from_the_periodic_sweep(celery_worker: Any) -> None:
    from django.utils import timezone

    from orchestrator.executor import walker

    flow = spec.parse_flow(
        """
id: lost-wake
namespace: tests.retries
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount == 0 }}"
    retry: {type: constant, interval: PT1H, maxAttempt: 2}
"""
    )
    execution = walker.start_execution(flow, {})
    deadline = time.monotonic() + 10
    while not execution.task_runs.filter(state=State.RETRYING).exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # As if the hour had passed and the countdown message had been lost with the broker.
    execution.task_runs.update(wake_at=timezone.now() - timedelta(minutes=1))

    assert reconciler.redispatch_stale(older_than=timedelta(minutes=5)) >= 1

    assert wait_for(execution, timeout=15).state == State.SUCCESS
    assert execution.task_runs.get().attempts == 2


AFTER_EXECUTION_RETRY = """
id: after-retry
namespace: tests.retries
tasks:
  - id: main
    type: io.kestra.plugin.core.log.Log
    message: main work
afterExecution:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ taskrun.attemptsCount == 0 }}}}"
    retry: {{type: constant, interval: {interval}, maxAttempt: 2}}
"""


def _after_run(execution: Execution, state: State, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not execution.task_runs.filter(task_id="flaky", state=state).exists():
        assert time.monotonic() < deadline, list(execution.task_runs.values_list("task_id", "state"))
        time.sleep(0.02)
    return execution.task_runs.get(task_id="flaky")


@pytest.mark.django_db(transaction=True)
def test_it_retries_an_after_execution_task_of_an_ended_execution(celery_worker: Any) -> None:
    execution = wait_for(run_flow_text(AFTER_EXECUTION_RETRY.format(interval="PT0.1S")))
    assert execution.state == State.SUCCESS

    flaky = _after_run(execution, State.SUCCESS)

    assert [a["state"] for a in retries.attempts(flaky)] == ["FAILED", "SUCCESS"]
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS  # afterExecution never changes the final state


def run_flow_text(text: str) -> Execution:
    from orchestrator.executor import walker

    return walker.start_execution(spec.parse_flow(text), {})
