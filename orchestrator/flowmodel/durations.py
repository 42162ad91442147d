"""ISO-8601 durations as Kestra (java.time.Duration) writes them: ``PT1S``, ``PT1M30S``, ``P1DT2H``.

Java's ``Duration.parse`` accepts days, hours, minutes and fractional seconds only (no years, months or
weeks), each optionally signed; we accept the same so a flow that loads here also loads in Kestra.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"(?P<sign>[-+]?)P"
    r"(?:(?P<days>[-+]?\d+)D)?"
    r"(?:T(?:(?P<hours>[-+]?\d+)H)?(?:(?P<minutes>[-+]?\d+)M)?(?:(?P<seconds>[-+]?\d+(?:[.,]\d{0,9})?)S)?)?",
    re.IGNORECASE,
)
# A duration is added to "now" (timeouts, delays, expiries): beyond a century the sum leaves the dates
# Python and the database can hold, so it is refused here, with a message, instead of overflowing later.
MAX_DURATION = timedelta(days=36525)
_MAX_TEXT = 64  # characters: longer text is no sensible duration, and is not parsed


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration; raise ``ValueError`` with a readable message otherwise."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        shown = repr(text) if len(repr(text)) <= _MAX_TEXT else f"{repr(text)[:_MAX_TEXT]}…"
        raise ValueError(f"must be an ISO-8601 duration like PT1M30S, got {shown}")
    value = text.strip()
    if len(value) > _MAX_TEXT:
        raise ValueError(f"must be an ISO-8601 duration like PT1M30S of at most {_MAX_TEXT} characters")
    match = _DURATION.fullmatch(value)
    has_time_part = "T" in value.upper()
    if (
        match is None
        or value.upper().endswith("T")
        or not any(match.group(g) for g in ("days", "hours", "minutes", "seconds"))
        or (has_time_part and not any(match.group(g) for g in ("hours", "minutes", "seconds")))
    ):
        raise ValueError(f"must be an ISO-8601 duration like PT1M30S, got {text!r}")
    parts = {g: match.group(g) for g in ("days", "hours", "minutes", "seconds")}
    days, hours, minutes = (int(parts[g] or 0) for g in ("days", "hours", "minutes"))
    seconds = float((parts["seconds"] or "0").replace(",", "."))
    # Checked before timedelta() is built: it raises OverflowError past 999,999,999 days.
    total = (days * 86400 + hours * 3600 + minutes * 60) + seconds
    if abs(total) > MAX_DURATION.total_seconds():
        raise ValueError(f"must be at most 100 years (P{MAX_DURATION.days}D), got {text!r}")
    result = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return -result if match.group("sign") == "-" else result


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way Java's ``Duration.toString`` does (``PT1H30M``, ``PT0.5S``)."""
    total = value.total_seconds()
    if total == 0:
        return "PT0S"
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "PT"
    if hours:
        out += f"{int(hours)}H"
    if minutes:
        out += f"{int(minutes)}M"
    if seconds:
        out += f"{seconds:g}S" if seconds != int(seconds) else f"{int(seconds)}S"
    return sign + out
