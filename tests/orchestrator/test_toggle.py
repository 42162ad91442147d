"""The Toggle task switches a stored trigger with the operator's switch (``triggers.set_enabled``)."""

from __future__ import annotations

from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from orchestrator.flowmodel import spec
from orchestrator.scheduler import triggers
from orchestrator.state.models import State, Trigger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOURLY = """
id: hourly
namespace: portico.toggles
tasks:
  - id: tick
    type: io.kestra.plugin.core.debug.Return
    format: tick
triggers:
  - id: every-hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"""


def switch_flow(task: str) -> str:
    return f"""
id: switcher
namespace: portico.toggles
tasks:
  - id: toggle
{task}
"""


@pytest.fixture
def hourly() -> Trigger:
    """The hourly schedule, stored as a flow sync stores it."""
    triggers.sync_triggers([spec.parse_flow(HOURLY, file="hourly.yml")], prune=False)
    return Trigger.objects.get(namespace="portico.toggles", flow_id="hourly", trigger_id="every-hour")


def beat_enabled(row: Trigger) -> bool:
    name = f"{triggers.PERIODIC_PREFIX}{row.namespace}.{row.flow_id}:{row.trigger_id}"
    return PeriodicTask.objects.get(name=name).enabled


def test_it_enables_a_trigger_the_operator_switched_off(run_flow: Any, hourly: Trigger) -> None:
    triggers.set_enabled(hourly, False)

    execution = run_flow(
        switch_flow(
            "    type: io.kestra.plugin.core.trigger.Toggle\n"
            "    namespace: portico.toggles\n"
            "    flowId: \"{{ 'hour' ~ 'ly' }}\"\n"
            "    trigger: every-hour\n"
            "    enabled: true\n"
        )
    )

    assert execution.state == State.SUCCESS
    hourly.refresh_from_db()
    assert hourly.enabled is True
    assert beat_enabled(hourly) is True


def test_it_disables_its_own_flow_trigger_by_default(run_flow: Any) -> None:
    own = HOURLY.replace("id: hourly", "id: switcher").replace(
        "  - id: tick\n    type: io.kestra.plugin.core.debug.Return\n    format: tick\n",
        "  - id: toggle\n    type: io.kestra.core.tasks.trigger.Toggle\n    trigger: every-hour\n",
    )
    triggers.sync_triggers([spec.parse_flow(own, file="switcher.yml")], prune=False)

    execution = run_flow(own)

    assert execution.state == State.SUCCESS
    row = Trigger.objects.get(namespace="portico.toggles", flow_id="switcher", trigger_id="every-hour")
    assert row.enabled is False
    assert beat_enabled(row) is False


def test_it_fails_on_a_trigger_that_is_not_stored(run_flow: Any, hourly: Trigger) -> None:
    execution = run_flow(
        switch_flow(
            "    type: io.kestra.plugin.core.trigger.Toggle\n"
            "    flowId: hourly\n"
            "    trigger: every-minute\n"
            "    enabled: true\n"
        )
    )

    assert execution.state == State.FAILED
    [run] = execution.task_runs.all()
    assert run.error == (
        "no trigger 'every-minute' is stored for flow portico.toggles.hourly "
        "(triggers are stored when flows are synced)"
    )
    hourly.refresh_from_db()
    assert hourly.enabled is True


OTHER_NAMESPACE_SWITCH = """
id: switcher
namespace: portico.elsewhere
tasks:
  - id: toggle
    type: io.kestra.plugin.core.trigger.Toggle
    namespace: portico.toggles
    flowId: hourly
    trigger: every-hour
"""


def test_it_lets_another_namespace_toggle_when_none_is_restricted(run_flow: Any, hourly: Trigger) -> None:
    execution = run_flow(OTHER_NAMESPACE_SWITCH)

    assert execution.state == State.SUCCESS
    hourly.refresh_from_db()
    assert hourly.enabled is False


def test_it_lets_a_listed_namespace_toggle(run_flow: Any, hourly: Trigger, settings: Any) -> None:
    settings.PORTICO_ALLOWED_NAMESPACES = {"portico.toggles": ["portico.elsewhere"]}

    execution = run_flow(OTHER_NAMESPACE_SWITCH)

    assert execution.state == State.SUCCESS
    hourly.refresh_from_db()
    assert hourly.enabled is False


def test_it_refuses_a_namespace_the_target_does_not_allow(
    run_flow: Any, hourly: Trigger, settings: Any
) -> None:
    settings.PORTICO_ALLOWED_NAMESPACES = {"portico.toggles": ["portico.friends"]}

    execution = run_flow(OTHER_NAMESPACE_SWITCH)

    assert execution.state == State.FAILED
    [run] = execution.task_runs.all()
    assert run.error == (
        "namespace 'portico.elsewhere' is not allowed to access flows of namespace 'portico.toggles' "
        "(PORTICO_ALLOWED_NAMESPACES lists which namespaces may)"
    )
    hourly.refresh_from_db()
    assert hourly.enabled is True
    assert beat_enabled(hourly) is True


def test_a_restricted_namespace_still_toggles_its_own_triggers(
    run_flow: Any, hourly: Trigger, settings: Any
) -> None:
    settings.PORTICO_ALLOWED_NAMESPACES = {"portico.toggles": []}

    execution = run_flow(
        switch_flow(
            "    type: io.kestra.plugin.core.trigger.Toggle\n    flowId: hourly\n    trigger: every-hour\n"
        )
    )

    assert execution.state == State.SUCCESS
    hourly.refresh_from_db()
    assert hourly.enabled is False
