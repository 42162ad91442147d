"""How long something has waited, in the fewest words ("3 h", "2 d"): queue items are scanned, not read."""

from __future__ import annotations

from datetime import datetime, timedelta

_UNITS = ((timedelta(days=1), "d"), (timedelta(hours=1), "h"), (timedelta(minutes=1), "min"))


def short_age(since: datetime, now: datetime) -> str:
    """The largest whole unit between ``since`` and ``now``: "2 d", "3 h", "5 min" or "under a minute"."""
    elapsed = now - since
    for unit, name in _UNITS:
        if elapsed >= unit:
            return f"{elapsed // unit} {name}"
    return "under a minute"
