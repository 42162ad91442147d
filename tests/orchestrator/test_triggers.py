"""Triggers: Schedule (beat entries), Webhook (portal API) and Flow (another flow's execution ended)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from orchestrator.flowmodel import spec
from orchestrator.scheduler import triggers
from orchestrator.state.models import Execution, State, Trigger
from tests.conftest import wait_for

SCHEDULED = """
id: nightly
namespace: portico.triggers
inputs:
  - id: who
    type: STRING
    defaults: nobody
tasks:
  - id: when
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }} {{ inputs.who }}"
triggers:
  - id: every-night
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "30 3 * * 1-7"
    timezone: Europe/Paris
    inputs:
      who: beat
"""

HOOKED = """
id: hooked
namespace: portico.triggers
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.name }} {{ trigger.headers['x-origin'][0] }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: s3cr3t-key
    conditions:
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{ trigger.body.name != 'skip' }}"
"""

UPSTREAM = """
id: upstream
namespace: portico.triggers.{suffix}
inputs:
  - id: fail
    type: BOOL
    defaults: false
tasks:
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: forty-two
  - id: maybe-fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
outputs:
  - id: answer
    type: STRING
    value: "{{ outputs.answer.value }}"
"""

LISTENER = """
id: listener
namespace: portico.listeners
inputs:
  - id: got
    type: STRING
tasks:
  - id: said
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.got }} from {{ trigger.flowId }} {{ trigger.state }}"
triggers:
  - id: after-upstream
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      got: "{{ trigger.outputs.answer }}/{{ outputs.answer.value }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: portico.triggers
        prefix: true
"""


def _sync(*texts: str) -> triggers.SyncReport:
    return triggers.sync_triggers([spec.parse_flow(t, file="test.yml") for t in texts])


def _executions(flow_id: str) -> list[Execution]:
    return list(Execution.objects.filter(flow_id=flow_id).order_by("created"))


def _wait_for_execution(flow_id: str, timeout: float = 20.0) -> Execution:
    deadline = time.monotonic() + timeout
    while not _executions(flow_id):
        if time.monotonic() > deadline:
            pytest.fail(f"no execution of {flow_id} within {timeout} s")
        time.sleep(0.05)
    return wait_for(_executions(flow_id)[0], timeout)


def test_it_loads_flows_with_schedule_webhook_and_flow_triggers() -> None:
    for text in (SCHEDULED, HOOKED, LISTENER):
        flow = spec.parse_flow(text, file="t.yml")
        assert [t.type.rsplit(".", 1)[-1] for t in flow.triggers] in (["Schedule"], ["Webhook"], ["Flow"])


def test_it_rejects_an_invalid_cron_at_load() -> None:
    text = SCHEDULED.replace('"30 3 * * 1-7"', '"61 3 * * *"')
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(text, file="t.yml")
    assert "triggers[0].cron" in str(caught.value.errors[0])


@pytest.mark.django_db
def test_it_keeps_beat_entries_in_sync_with_the_flows() -> None:
    report = _sync(SCHEDULED, HOOKED)
    assert sorted(report.created) == ["portico.triggers.hooked:hook", "portico.triggers.nightly:every-night"]
    task = PeriodicTask.objects.get(name="portico-trigger:portico.triggers.nightly:every-night")
    assert task.task == "orchestrator.fire_schedule"
    assert json.loads(task.args) == ["portico.triggers", "nightly", "every-night"]
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "3", "1-6,0")
    assert str(task.crontab.timezone) == "Europe/Paris"
    assert task.enabled

    row = Trigger.objects.get(trigger_id="every-night")
    triggers.set_enabled(row, False)
    assert not PeriodicTask.objects.get(pk=task.pk).enabled
    _sync(SCHEDULED.replace("30 3", "15 4"), HOOKED)  # an edit keeps the operator's switch
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("15", "4", False)

    report = _sync(HOOKED)  # the schedule is gone from the flows
    assert report.removed == ["portico.triggers.nightly:every-night (Schedule)"]
    assert not PeriodicTask.objects.filter(name__startswith="portico-trigger:").exists()


@pytest.mark.django_db(transaction=True)
def test_it_fires_a_schedule_once_per_tick_with_the_tick_date(celery_worker: Any) -> None:
    _sync(SCHEDULED)
    # 03:31:20 in Paris (UTC+1 in winter): the tick is 03:30 local.
    now = datetime(2026, 1, 6, 2, 31, 20, tzinfo=UTC)
    execution = triggers.fire_schedule("portico.triggers", "nightly", "every-night", now=now)
    assert execution is not None
    assert triggers.fire_schedule("portico.triggers", "nightly", "every-night", now=now) is None
    execution = wait_for(execution)
    assert execution.state == State.SUCCESS
    assert execution.trigger["date"] == "2026-01-06T03:30:00+01:00"
    assert execution.trigger["previous"] == "2026-01-05T03:30:00+01:00"
    assert execution.trigger["next"] == "2026-01-07T03:30:00+01:00"
    assert execution.task_runs.get(task_id="when").outputs == {"value": "2026-01-06T03:30:00+01:00 beat"}
    assert Trigger.objects.get(trigger_id="every-night").last_execution == execution.pk


@pytest.mark.django_db
def test_it_does_not_fire_a_schedule_disabled_in_the_admin_or_in_the_flow() -> None:
    _sync(SCHEDULED)
    triggers.set_enabled(Trigger.objects.get(trigger_id="every-night"), False)
    assert triggers.fire_schedule("portico.triggers", "nightly", "every-night") is None
    _sync(SCHEDULED.replace("    timezone: Europe/Paris", "    timezone: Europe/Paris\n    disabled: true"))
    triggers.set_enabled(Trigger.objects.get(trigger_id="every-night"), True)
    assert not PeriodicTask.objects.get(name__endswith="every-night").enabled
    assert triggers.fire_schedule("portico.triggers", "nightly", "every-night") is None
    assert not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_starts_an_execution_from_a_webhook(client: Any, celery_worker: Any) -> None:
    _sync(HOOKED)
    response = client.post(
        "/api/v1/executions/webhook/portico.triggers/hooked/s3cr3t-key?x=1",
        data=json.dumps({"name": "alice"}),
        content_type="application/json",
        HTTP_X_ORIGIN="ci",
        HTTP_COOKIE="sessionid=nope",
    )
    assert response.status_code == 200
    execution = wait_for(Execution.objects.get(pk=response.json()["id"]))
    assert execution.state == State.SUCCESS
    assert execution.task_runs.get(task_id="echo").outputs == {"value": "alice ci"}
    assert execution.trigger["parameters"] == {"x": ["1"]}
    assert "cookie" not in execution.trigger["headers"]


@pytest.mark.django_db
def test_it_answers_a_wrong_key_and_an_unknown_flow_alike(client: Any) -> None:
    _sync(HOOKED)
    wrong_key = client.post(
        "/api/v1/executions/webhook/portico.triggers/hooked/guess", data="x", content_type="text/plain"
    )
    no_flow = client.post("/api/v1/executions/webhook/portico.triggers/nope/s3cr3t-key")
    assert (wrong_key.status_code, no_flow.status_code) == (404, 404)
    assert wrong_key.content == no_flow.content
    assert client.get("/api/v1/executions/webhook/portico.triggers/hooked/s3cr3t-key").status_code == 405
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_it_starts_nothing_when_webhook_conditions_fail_or_the_trigger_is_disabled(client: Any) -> None:
    _sync(HOOKED)
    url = "/api/v1/executions/webhook/portico.triggers/hooked/s3cr3t-key"
    assert client.post(url, data={"name": "skip"}, content_type="application/json").status_code == 204
    triggers.set_enabled(Trigger.objects.get(trigger_id="hook"), False)
    assert client.post(url, data={"name": "alice"}, content_type="application/json").status_code == 404
    assert not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_starts_a_listening_flow_when_another_flow_succeeds(run_flow: Any) -> None:
    _sync(LISTENER)
    upstream = run_flow(UPSTREAM.replace("{suffix}", "sales"))
    assert upstream.state == State.SUCCESS, [(t.task_id, t.state, t.error) for t in upstream.task_runs.all()]
    listener = _wait_for_execution("listener")
    assert listener.state == State.SUCCESS
    assert listener.inputs == {"got": "forty-two/forty-two"}
    assert listener.trigger["executionId"] == str(upstream.pk)
    assert listener.task_runs.get(task_id="said").outputs == {
        "value": "forty-two/forty-two from upstream SUCCESS"
    }


@pytest.mark.django_db(transaction=True)
def test_it_ignores_executions_the_flow_trigger_conditions_exclude(run_flow: Any) -> None:
    _sync(LISTENER)
    failed = run_flow(UPSTREAM.replace("{suffix}", "sales"), {"fail": "true"})
    assert failed.state == State.FAILED
    elsewhere = run_flow(UPSTREAM.replace("{suffix}", "x").replace("portico.triggers.x", "portico.triggersx"))
    assert elsewhere.state == State.SUCCESS
    triggers.set_enabled(Trigger.objects.get(trigger_id="after-upstream"), False)
    disabled = run_flow(UPSTREAM.replace("{suffix}", "sales"))
    assert disabled.state == State.SUCCESS
    # Evaluated again here, deterministically (the receiver did the same after each commit).
    for execution in (failed, elsewhere, disabled):
        assert triggers.fire_flow_triggers(execution.pk, execution.state) == []
    assert _executions("listener") == []


@pytest.mark.django_db
def test_it_toggles_a_trigger_from_the_admin(admin_client: Any) -> None:
    _sync(SCHEDULED)
    row = Trigger.objects.get(trigger_id="every-night")
    response = admin_client.post(
        "/admin/orchestrator/trigger/",
        {"action": "disable", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert not row.enabled
    assert not PeriodicTask.objects.get(name__endswith="every-night").enabled
    response = admin_client.post(f"/admin/orchestrator/trigger/{row.pk}/change/", {"enabled": "on"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.enabled and PeriodicTask.objects.get(name__endswith="every-night").enabled


WAITED = """
id: waited
namespace: portico.triggers
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ trigger.body.nap }}"
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ trigger.body.name }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: wait-key
    wait: true
    returnOutputs: {return_outputs}
"""
WAITED_URL = "/api/v1/executions/webhook/portico.triggers/waited/wait-key"


def _call_waited(client: Any, nap: str, name: str = "alice") -> Any:
    body = json.dumps({"nap": nap, "name": name})
    return client.post(WAITED_URL, data=body, content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_waiting_webhook_with_the_final_state_and_outputs(
    client: Any, celery_worker: Any
) -> None:
    _sync(WAITED.replace("{return_outputs}", "true"))
    response = _call_waited(client, "PT0.5S")
    assert response.status_code == 200
    answer = response.json()
    execution = Execution.objects.get(pk=answer["id"])
    assert execution.state == State.SUCCESS  # ended before the answer left, not merely started
    assert answer["state"] == "SUCCESS"
    assert answer["outputs"] == {"greeting": "hello alice"}


@pytest.mark.django_db(transaction=True)
def test_a_waiting_webhook_returns_a_secret_output_masked(client: Any, celery_worker: Any) -> None:
    """Outputs holding a SECRET value are sealed at rest; the webhook's answer shows ******, neither the
    sealed token nor the value."""
    secret_input = "inputs:\n  - id: token\n    type: SECRET\n    defaults: s3cr3t-v4lue\ntasks:\n"
    _sync(
        WAITED.replace("{return_outputs}", "true")
        .replace("tasks:\n", secret_input, 1)
        .replace('format: "hello {{ trigger.body.name }}"', 'format: "{{ inputs.token }}"')
    )
    response = _call_waited(client, "PT0.1S")
    assert response.status_code == 200, response.content
    assert response.json()["outputs"] == {"greeting": "******"}
    assert b"s3cr3t" not in response.content and b"$secret" not in response.content


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_waiting_webhook_without_outputs_unless_asked(client: Any, celery_worker: Any) -> None:
    _sync(WAITED.replace("{return_outputs}", "false"))
    response = _call_waited(client, "PT0.1S")
    assert response.status_code == 200
    assert response.json()["state"] == "SUCCESS"
    assert "outputs" not in response.json()


@pytest.mark.django_db(transaction=True)
def test_it_answers_202_with_the_id_when_the_wait_times_out(
    client: Any, celery_worker: Any, settings: Any
) -> None:
    settings.PORTICO_WEBHOOK_WAIT_SECONDS = 0.5
    _sync(WAITED.replace("{return_outputs}", "true"))
    started = time.monotonic()
    response = _call_waited(client, "PT3S")
    assert time.monotonic() - started < 2.5  # bounded by the setting, not by the 3 s flow
    assert response.status_code == 202
    answer = response.json()
    assert answer["state"] in ("CREATED", "RUNNING") and "outputs" not in answer
    execution = wait_for(Execution.objects.get(pk=answer["id"]))  # it goes on after the answer
    assert execution.state == State.SUCCESS
