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


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration; raise ``ValueError`` with a readable message otherwise."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"must be an ISO-8601 duration like PT1M30S, got {text!r}")
    value = text.strip()
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
    result = timedelta(
        days=int(parts["days"] or 0),
        hours=int(parts["hours"] or 0),
        minutes=int(parts["minutes"] or 0),
        seconds=float((parts["seconds"] or "0").replace(",", ".")),
    )
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
