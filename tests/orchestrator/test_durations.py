"""ISO-8601 durations as java.time.Duration reads and prints them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.flowmodel.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1S", timedelta(seconds=1)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("PT1M30S", timedelta(seconds=90)),
        ("PT2H", timedelta(hours=2)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("pt5m", timedelta(minutes=5)),
        ("-PT5S", timedelta(seconds=-5)),
    ],
)
def test_it_parses_java_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "5s", "P1Y", "P1W", "PT1H2", "1 minute", "P1DT"])
def test_it_rejects_what_java_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="must be an ISO-8601 duration like PT1M30S"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(seconds=90), "PT1M30S"),
        (timedelta(days=1), "PT24H"),
        (timedelta(seconds=0.5), "PT0.5S"),
    ],
)
def test_it_formats_like_java(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected
