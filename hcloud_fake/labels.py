"""Label selectors as the Hetzner API reads them (``env=prod,!legacy,tier in (web,api)``).

Portico finds the VMs it owns by label, so the fake must filter the way the real API does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Predicate = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)$")
_CMP = re.compile(r"^(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


class LabelSelectorError(ValueError):
    """The selector does not parse; the API answers ``invalid_input``."""


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _term(expr: str) -> Predicate:
    if match := _SET.match(expr):
        key, values = match["key"], {v.strip() for v in match["values"].split(",") if v.strip()}
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _CMP.match(expr):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if expr.startswith("!") and re.fullmatch(r"![^\s!=(),]+", expr):
        return lambda labels: expr[1:] not in labels
    if re.fullmatch(r"[^\s!=(),]+", expr):
        return lambda labels: expr in labels
    raise LabelSelectorError(f"invalid label selector expression {expr!r}")


def compile_selector(selector: str) -> Predicate:
    terms = [_term(expr) for expr in _split(selector)]
    return lambda labels: all(term(labels) for term in terms)
