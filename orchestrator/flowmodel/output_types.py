"""Flow outputs by their declared ``type``, as Kestra's ``FlowInputOutput.typedOutputs`` converts them.

A flow output is rendered to text first; its ``type`` then says what the execution keeps: ``INT`` 200,
not "200"; ``JSON`` an object; ``BOOLEAN`` true/false; ``SECRET`` a value stored encrypted. A value
that does not convert fails the execution with Kestra's wording ("Invalid output for `id`, Expected
`INT` but received `abc` ..."). An output without ``type`` keeps its rendered value. ``required: false``
lets an output render to nothing (kept as null) where a required one must convert.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, time
from typing import Any

import yaml

from orchestrator.flowmodel import input_types
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.secrets_at_rest import Secret

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")
_INT_RANGE = (-(2**63), 2**63 - 1)  # what the database keeps exactly


class OutputInvalid(ValueError):
    """A flow output whose rendered value does not convert to its declared type."""


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    number = value if isinstance(value, int) else int(str(value).strip())
    if not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
        raise ValueError("out of range")
    return number


def _float(value: Any) -> float:
    number = float(value) if not isinstance(value, bool) else math.nan
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _bool(value: Any) -> bool:
    # Java's Boolean.valueOf: "true" in any case is true, anything else false.
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def _datetime(value: Any) -> str:
    text = str(value).strip()
    datetime.fromisoformat(text.replace("Z", "+00:00"))
    return text


def _date(value: Any) -> str:
    return date.fromisoformat(str(value).strip()).isoformat()


def _time(value: Any) -> str:
    return time.fromisoformat(str(value).strip()).isoformat()


def _duration(value: Any) -> str:
    text = str(value).strip()
    parse_duration(text)
    return text


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _yaml(value: Any) -> Any:
    return yaml.safe_load(value) if isinstance(value, str) else value


def _uri(value: Any) -> str:
    text = str(value)
    if not _URI.match(text):
        raise ValueError(f"Expected `URI` but received `{text}`")
    return text


def _file(value: Any) -> str:
    text = str(value)
    if not text.startswith("kestra:///"):
        raise ValueError("a FILE output must be a kestra:/// URI of this execution's storage")
    return text


def _array(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else json.loads(value)
    if not isinstance(items, list):
        raise ValueError("not a list")
    return items


_CONVERTERS = {
    "INT": _int,
    "FLOAT": _float,
    "BOOLEAN": _bool,
    "BOOL": _bool,
    "DATETIME": _datetime,
    "DATE": _date,
    "TIME": _time,
    "DURATION": _duration,
    "JSON": _json,
    "YAML": _yaml,
    "URI": _uri,
    "FILE": _file,
}


def convert(kind: str, value: Any) -> Any:
    """``value`` as a ``kind`` (Kestra's type name); ValueError/TypeError when it does not convert."""
    if kind in ("STRING", "SELECT", "ENUM", "EMAIL"):
        return value
    if kind == "SECRET":
        return Secret(value)
    if kind in ("ARRAY", "MULTISELECT"):
        return _array(value)
    return _CONVERTERS[kind](value)


def typed(output: dict[str, Any], value: Any) -> Any:
    """The stored value of one declared flow output (``output`` as parsed: id, type, required...)."""
    kind = input_types.canonical_type(output.get("type")) if output.get("type") else None
    if kind is None:
        return value
    if value is None or value == "":
        if output.get("required") is False:
            return None
        if kind in ("STRING", "SELECT", "ENUM", "EMAIL"):
            return value
    try:
        return convert(kind, value)
    except (TypeError, ValueError, json.JSONDecodeError, yaml.YAMLError) as exc:
        shown = _as_text(value)
        shown = shown if len(shown) <= 200 else shown[:200] + "…"
        raise OutputInvalid(
            f"Invalid output for `{output.get('id')}`, Expected `{kind}` but received `{shown}` with errors: "
            f"{exc}"
        ) from None
