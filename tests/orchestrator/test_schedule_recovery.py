"""Schedule triggers after a downtime (recoverMissedSchedules, lateMaximumDelay) and backfills.

The firing function takes an explicit ``now``: a downtime is a call hours after the last one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from orchestrator.flowmodel import spec
from orchestrator.scheduler import beat_jobs, triggers
from orchestrator.state.models import Execution, State, Trigger
from tests.conftest import wait_for

HOURLY = """
id: hourly
namespace: portico.schedules
tasks:
  - id: when
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: every-hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    timezone: UTC
"""
KEY = ("portico.schedules", "hourly", "every-hour")


def _at(hour: int, minute: int = 0, second: int = 5) -> datetime:
    return datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


def _sync(text: str = HOURLY, extra: str = "") -> Trigger:
    triggers.sync_triggers([spec.parse_flow(text + extra, file="hourly.yml")])
    return Trigger.objects.get(trigger_id="every-hour")


def _dates(firing: triggers.ScheduleFiring) -> list[str]:
    return [e.trigger["date"] for e in firing.executions]


def _hours(*hours: int) -> list[str]:
    return [_at(h, second=0).isoformat() for h in hours]


@pytest.mark.django_db
def test_it_recovers_every_missed_schedule_by_default() -> None:
    _sync()
    assert _dates(triggers.run_schedule(*KEY, now=_at(10))) == _hours(10)
    firing = triggers.run_schedule(*KEY, now=_at(14))  # down from 10:00 to 14:00
    assert _dates(firing) == _hours(11, 12, 13, 14)
    first = firing.executions[0].trigger
    assert [first["previous"], first["next"]] == _hours(10, 12)
    assert firing.skipped == [] and not firing.more
    assert triggers.run_schedule(*KEY, now=_at(14, 0, 30)).executions == []  # a duplicate delivery
    assert Trigger.objects.get(trigger_id="every-hour").last_scheduled == _at(14, second=0)


@pytest.mark.django_db
def test_it_recovers_only_the_last_missed_schedule_with_last() -> None:
    _sync(extra="    recoverMissedSchedules: LAST\n")
    triggers.run_schedule(*KEY, now=_at(10))
    firing = triggers.run_schedule(*KEY, now=_at(14, 30))
    assert _dates(firing) == _hours(14)
    assert firing.skipped == [_at(13, second=0).isoformat()]  # 11:00 to 13:00 never run
    assert _dates(triggers.run_schedule(*KEY, now=_at(15))) == _hours(15)


@pytest.mark.django_db
def test_it_recovers_nothing_with_none_but_runs_the_schedules_on_time() -> None:
    _sync(extra="    recoverMissedSchedules: NONE\n")
    triggers.run_schedule(*KEY, now=_at(10))
    assert _dates(triggers.run_schedule(*KEY, now=_at(11, 0, 3))) == _hours(11)  # on time: runs
    firing = triggers.run_schedule(*KEY, now=_at(14, 30))  # down from 11:00 to 14:30
    assert firing.executions == [] and firing.skipped == [_at(14, second=0).isoformat()]
    assert _dates(triggers.run_schedule(*KEY, now=_at(15, 0, 2))) == _hours(15)
    assert Execution.objects.filter(flow_id="hourly").count() == 3


@pytest.mark.django_db
def test_the_installation_default_applies_to_schedules_that_do_not_say(settings: Any) -> None:
    settings.PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES = "NONE"
    _sync()
    triggers.run_schedule(*KEY, now=_at(10))
    assert triggers.run_schedule(*KEY, now=_at(14, 30)).executions == []
    _sync(extra="    recoverMissedSchedules: ALL\n")  # the trigger's own setting wins
    assert _dates(triggers.run_schedule(*KEY, now=_at(17))) == _hours(15, 16, 17)


@pytest.mark.django_db
def test_it_skips_dates_later_than_the_late_maximum_delay() -> None:
    _sync(extra="    lateMaximumDelay: PT90M\n")
    triggers.run_schedule(*KEY, now=_at(10))
    firing = triggers.run_schedule(*KEY, now=_at(14))
    assert _dates(firing) == _hours(13, 14)  # 11:00 and 12:00 are more than 90 minutes late
    assert firing.skipped == [_at(12, second=0).isoformat()]


@pytest.mark.django_db
def test_it_catches_up_one_batch_per_call(settings: Any) -> None:
    settings.PORTICO_SCHEDULE_BATCH = 2
    _sync()
    triggers.run_schedule(*KEY, now=_at(10))
    first = triggers.run_schedule(*KEY, now=_at(15))
    assert _dates(first) == _hours(11, 12) and first.more
    second = triggers.run_schedule(*KEY, now=_at(15))
    assert _dates(second) == _hours(13, 14) and second.more
    third = triggers.run_schedule(*KEY, now=_at(15))
    assert _dates(third) == _hours(15) and not third.more


BACKFILL = """    backfill:
      start: "2026-01-01T00:00:00Z"
      end: "2026-01-01T05:30:00Z"
      labels:
        reason: outage
        day: "{{ trigger.date | date('yyyy-MM-dd') }}"
"""


@pytest.mark.django_db
def test_a_backfill_runs_its_dates_with_its_labels_once_then_the_schedule_goes_on(settings: Any) -> None:
    settings.PORTICO_SCHEDULE_BATCH = 4
    row = _sync(extra=BACKFILL)
    now = timezone.now()
    # A new trigger starts now: the dates before are the backfill's, not missed ones.
    assert row.last_scheduled == now.replace(minute=0, second=0, microsecond=0)
    first = triggers.run_schedule(*KEY, now=now)
    assert [d[11:16] for d in _dates(first)] == ["00:00", "01:00", "02:00", "03:00"] and first.more
    second = triggers.run_schedule(*KEY, now=now)
    assert [d[11:16] for d in _dates(second)] == ["04:00", "05:00"] and not second.more
    labels = second.executions[-1].labels
    assert (labels["reason"], labels["day"]) == ("outage", "2026-01-01")
    assert second.executions[-1].trigger["previous"] == "2026-01-01T04:00:00+00:00"
    _sync(extra=BACKFILL)  # the same declaration is not replayed by the next sync
    assert triggers.run_schedule(*KEY, now=now).executions == []
    following = triggers.run_schedule(*KEY, now=now + timedelta(hours=1))
    assert len(following.executions) == 1 and "reason" not in following.executions[0].labels
    assert Execution.objects.filter(flow_id="hourly", labels__reason="outage").count() == 6


@pytest.mark.parametrize(
    ("backfill", "message"),
    [
        ('{start: "2026-01-02T00:00:00Z", end: "2026-01-01T00:00:00Z"}', "end must not be before start"),
        ('{start: "2026-01-01T00:00:00"}', "offset"),
        ('{start: "yesterday"}', "ISO-8601"),
        ('{start: "2026-01-01T00:00:00Z", labels: {system.correlationId: x}}', "system labels"),
        ('{start: "2026-01-01T00:00:00Z", paused: true}', "unknown property"),
    ],
)
def test_it_refuses_a_backfill_kestra_would_refuse(backfill: str, message: str) -> None:
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(HOURLY + f"    backfill: {backfill}\n", file="hourly.yml")
    assert message in str(caught.value), str(caught.value)


def test_it_refuses_a_late_maximum_delay_that_is_no_duration() -> None:
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(HOURLY + "    lateMaximumDelay: soon\n", file="hourly.yml")
    assert "lateMaximumDelay" in str(caught.value)


def _wait_count(count: int, timeout: float = 30.0) -> list[Execution]:
    deadline = time.monotonic() + timeout
    while True:
        found = list(Execution.objects.filter(flow_id="hourly").order_by("created"))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_beat_job_catches_up_gradually_through_the_worker(celery_worker: Any, settings: Any) -> None:
    settings.PORTICO_SCHEDULE_BATCH = 2
    row = _sync()
    latest = timezone.now().replace(minute=0, second=0, microsecond=0)
    Trigger.objects.filter(pk=row.pk).update(last_scheduled=latest - timedelta(hours=5))
    beat_jobs.fire_schedule.delay(*KEY)  # beat's one message after a five-hour downtime
    executions = _wait_count(5)
    assert [e.trigger["date"] for e in executions] == [
        (latest - timedelta(hours=h)).isoformat() for h in (4, 3, 2, 1, 0)
    ]
    for execution in executions:
        execution = wait_for(execution)
        assert execution.state == State.SUCCESS
        assert execution.task_runs.get(task_id="when").outputs == {"value": execution.trigger["date"]}
    time.sleep(1.5)  # a further message would have been sent a second after the last batch
    assert Execution.objects.filter(flow_id="hourly").count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_synced_backfill_starts_at_once_through_the_worker(celery_worker: Any) -> None:
    _sync(extra=BACKFILL)
    executions = _wait_count(6)
    assert [e.trigger["date"][11:13] for e in executions] == ["00", "01", "02", "03", "04", "05"]
    assert all(wait_for(e).state == State.SUCCESS and e.labels["reason"] == "outage" for e in executions)
