"""A Schedule trigger's dates: the cron ticks before and after a moment, in the schedule's time zone.

Ticks are found day by day (then hour, then minute) in local wall time, so a gap of years costs a few
thousand steps, never one per minute. A cron that matches no day within ``_MAX_DAYS`` (e.g. 30 February)
has no tick.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from celery.schedules import crontab

from orchestrator.plugins.core.trigger_types import cron_fields

# Far enough for the rarest valid cron (29 February on a given weekday recurs within 28 years).
_MAX_DAYS = 366 * 29


def parse_cron(expression: str) -> crontab:
    return crontab(**cron_fields(expression))


def _day_matches(cron: crontab, day: date) -> bool:
    return (
        day.day in cron.day_of_month
        and day.month in cron.month_of_year
        and day.isoweekday() % 7 in cron.day_of_week
    )


def _times(cron: crontab, day: date, *, reverse: bool) -> Iterator[datetime]:
    for hour in sorted(cron.hour, reverse=reverse):
        for minute in sorted(cron.minute, reverse=reverse):
            yield datetime(day.year, day.month, day.day, hour, minute)


def next_tick(cron: crontab, after: datetime) -> datetime | None:
    """The first tick strictly after ``after`` (aware; the result is in ``after``'s zone)."""
    zone = after.tzinfo
    local = after.replace(tzinfo=None)
    day = local.date()
    for _ in range(_MAX_DAYS):
        if _day_matches(cron, day):
            for moment in _times(cron, day, reverse=False):
                aware = moment.replace(tzinfo=zone)
                if moment > local and aware > after:
                    return aware
        day += timedelta(days=1)
    return None


def previous_tick(cron: crontab, at: datetime) -> datetime | None:
    """The latest tick at or before ``at`` (aware; the result is in ``at``'s zone)."""
    zone = at.tzinfo
    local = at.replace(tzinfo=None)
    day = local.date()
    for _ in range(_MAX_DAYS):
        if _day_matches(cron, day):
            for moment in _times(cron, day, reverse=True):
                aware = moment.replace(tzinfo=zone)
                if moment <= local and aware <= at:
                    return aware
        day -= timedelta(days=1)
    return None


def first_tick_from(cron: crontab, start: datetime) -> datetime | None:
    """The first tick at or after ``start`` (Kestra: the next execution after ``start`` minus a second)."""
    return next_tick(cron, start - timedelta(seconds=1))


def variables(cron: crontab, moment: datetime) -> dict[str, str | None]:
    """Kestra's ``trigger.date`` / ``trigger.previous`` / ``trigger.next`` of the schedule date ``moment``."""
    previous = previous_tick(cron, moment - timedelta(seconds=1))
    following = next_tick(cron, moment)
    return {
        "date": moment.isoformat(),
        "previous": previous.isoformat() if previous else None,
        "next": following.isoformat() if following else None,
    }
