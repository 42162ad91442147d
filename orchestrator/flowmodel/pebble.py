"""Pebble compatibility for Kestra expressions: filters, functions, tests and operator rewriting.

Kestra renders ``{{ ... }}`` with Pebble; Portico renders with Jinja2. The shared subset needs nothing,
and this module supplies the rest: Pebble-only filters (``date('yyyy-MM-dd')``, ``jq``, ``dateAdd``...),
functions (``now()``, ``json()``) and a source rewrite for operators Jinja lacks (``??``, ``c ? x : y``,
``equals``). Problems raise ``PebbleError``; ``templating`` turns them into ``TemplateError``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Undefined, pass_context

from orchestrator.flowmodel import config_functions


class PebbleError(Exception):
    """A filter or function got a value it cannot handle; the message names the filter."""


# ----------------------------------------------------------------------------------------- filters

_JAVA_DATE = [  # longest tokens first
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "\ue000"),  # milliseconds: filled in after strftime
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("XXX", "%z"),
    ("Z", "%z"),
    ("z", "%Z"),
    ("M", "%-m"),
    ("d", "%-d"),
    ("H", "%-H"),
]


def _java_to_strftime(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":  # quoted literal
            end = pattern.find("'", index + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[index + 1 : end].replace("%", "%%"))
            index = end + 1
            continue
        for token, directive in _JAVA_DATE:
            if pattern.startswith(token, index):
                out.append(directive)
                index += len(token)
                break
        else:
            out.append("%%" if char == "%" else char)
            index += 1
    return "".join(out)


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise PebbleError(f"date: cannot read {text!r} as a date") from None


def _date(value: Any, pattern: str | None = None, timeZone: str | None = None, **_: Any) -> str:  # noqa: N803
    """Pebble's ``date('yyyy-MM-dd', timeZone='Europe/Berlin')`` with Java pattern letters."""
    moment = _to_datetime(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Kestra's dates are instants
    if timeZone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            moment = moment.astimezone(ZoneInfo(timeZone))
        except (ZoneInfoNotFoundError, ValueError):
            raise PebbleError(f"date: unknown time zone {timeZone!r}") from None
    if pattern is None or pattern == "iso":
        return moment.isoformat()
    result = moment.strftime(_java_to_strftime(pattern))
    return result.replace("\ue000", f"{moment.microsecond // 1000:03d}")


def _now(**_: Any) -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _to_json(value: Any) -> str:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _from_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise PebbleError(f"fromJson: invalid JSON ({exc.msg})") from None


def _number(value: Any, *_: Any) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise PebbleError(f"number: {text!r} is not a number") from None


def _slugify(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _keys(value: Any) -> list:
    return list(value.keys()) if isinstance(value, dict) else list(range(len(value)))


def _values(value: Any) -> list:
    return list(value.values()) if isinstance(value, dict) else list(value)


_JQ_STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\.?\[\s*(?:"([^"]*)"|'([^']*)'|(-?\d+))?\s*\]""")


def _jq(value: Any, expression: str) -> list[Any]:
    """The path subset of jq (``.``, ``.a.b``, ``.["k"]``, ``.[0]``, ``.[]``); like Kestra, returns a list."""
    if isinstance(value, str):
        value = _from_json(value)
    results = [value]
    text = expression.strip()
    index = 1 if text == "." else 0
    while index < len(text):
        step = _JQ_STEP.match(text, index)
        if step is None:
            raise PebbleError(
                f"jq: only path expressions like .a.b or .[0] are supported, got {expression!r}"
            )
        name, double, single, number = step.groups()
        key = name or double or single
        following = []
        for item in results:
            if key is not None:
                following.append(item.get(key) if isinstance(item, dict) else None)
            elif number is not None:
                following.append(
                    item[int(number)]
                    if isinstance(item, list) and -len(item) <= int(number) < len(item)
                    else None
                )
            elif isinstance(item, list):
                following.extend(item)
            elif isinstance(item, dict):
                following.extend(item.values())
            else:
                raise PebbleError(f"jq: cannot iterate over {type(item).__name__}")
        results = following
        index = step.end()
    return results


def _is_json(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except json.JSONDecodeError:
        return False
    return True


def _coalesce(*values: Any) -> Any:
    """Pebble's ``??``: the first operand that is defined and not null."""
    for value in values:
        if not isinstance(value, Undefined) and value is not None:
            return value
    return values[-1]


_DATE_UNITS = {
    "SECONDS": "seconds",
    "MINUTES": "minutes",
    "HOURS": "hours",
    "DAYS": "days",
    "WEEKS": "weeks",
    "MONTHS": "months",
    "YEARS": "years",
}


def _date_add(value: Any, amount: int, unit: str) -> str:
    """Pebble's ``dateAdd(-1, 'DAYS')``: shift an instant, keep ISO text."""
    from dateutil.relativedelta import relativedelta

    key = _DATE_UNITS.get(str(unit).upper())
    if key is None:
        raise PebbleError(f"dateAdd: unit must be one of {', '.join(_DATE_UNITS)}, got {unit!r}")
    moment = _to_datetime(value) + relativedelta(**{key: int(amount)})
    return moment.isoformat().replace("+00:00", "Z")


def _slice(value: Any, start: int = 0, end: int | None = None) -> Any:
    """Pebble's ``slice(from, to)`` on strings and lists (not Jinja's column split)."""
    return value[int(start) : None if end is None else int(end)]


def _split(value: Any, separator: str = ",", limit: int | None = None) -> list[str]:
    return str(value).split(str(separator), -1 if limit is None else max(int(limit) - 1, 0))


def _between(value: Any, marker: Any, *, before: bool, last: bool) -> str:
    text, marker = str(value), str(marker)
    index = text.rfind(marker) if last else text.find(marker)
    if index < 0:
        return text if before else ""
    return text[:index] if before else text[index + len(marker) :]


def _b64encode(value: Any) -> str:
    import base64

    return base64.b64encode(str(value).encode("utf-8")).decode("ascii")


def _b64decode(value: Any) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise PebbleError("base64decode: not valid base64 text") from None


@pass_context
def _print_context(context: Any) -> str:
    """Kestra's ``printContext()``: the variables a template can see, as JSON (for debugging flows)."""
    names = {
        k: v
        for k, v in context.get_all().items()
        if k not in context.environment.globals and not callable(v) and not isinstance(v, Undefined)
    }
    return json.dumps(names, default=str, ensure_ascii=False, sort_keys=True)


def _replace(value: Any, old: Any, new: Any = None, count: int | None = None) -> str:
    """Jinja's ``replace(old, new)`` and Pebble's ``replace({'old': 'new'})``."""
    text = str(value)
    if isinstance(old, dict) and new is None:
        for key, replacement in old.items():
            text = text.replace(str(key), str(replacement))
        return text
    return text.replace(str(old), str(new), -1 if count is None else count)


# ------------------------------------------------------------------------------- Pebble translation
# Pebble has operators Jinja lacks: null-coalescing ``a ?? b``, the ternary ``c ? x : y`` and ``equals``.
# They are rewritten (per bracket group, outside string literals) into ``coalesce(a, b)``,
# ``(x if c else y)`` and ``==``. Pebble's ``contains`` operator is not translated yet.

_BLOCK = re.compile(r"(\{\{-?|\{%-?)(.*?)(-?\}\}|-?%\})", re.DOTALL)
_STATEMENT = re.compile(r"^(\s*(?:if|elif|set\s+[\w.]+\s*=|for\s+[\w, ]+\s+in)\s)(.*)$", re.DOTALL)
_OPEN, _CLOSE = "([{", ")]}"


def _skip_string(expr: str, index: int) -> int:
    """Index just past the string literal starting at ``index``."""
    quote, index = expr[index], index + 1
    while index < len(expr) and expr[index] != quote:
        index += 2 if expr[index] == "\\" else 1
    return index + 1


def _matching(expr: str, index: int) -> int:
    depth = 0
    while index < len(expr):
        char = expr[index]
        if char in "'\"":
            index = _skip_string(expr, index)
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise PebbleError("unbalanced brackets in expression")


def _top_level(expr: str, token: str) -> list[int]:
    """Positions of ``token`` in ``expr`` outside strings and brackets."""
    positions, depth, index = [], 0, 0
    while index < len(expr):
        char = expr[index]
        if char in "'\"":
            index = _skip_string(expr, index)
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        elif depth == 0 and expr.startswith(token, index):
            if token != "?" or not (expr.startswith("??", index) or expr[index - 1 : index] == "?"):
                positions.append(index)
                index += len(token)
                continue
        index += 1
    return positions


def _rewrite_expr(expr: str) -> str:
    if "?" not in expr:
        return expr
    # Rewrite inside bracket groups first.
    out, index = [], 0
    while index < len(expr):
        char = expr[index]
        if char in "'\"":
            end = _skip_string(expr, index)
            out.append(expr[index:end])
            index = end
        elif char in _OPEN:
            end = _matching(expr, index)
            out.append(char + _rewrite_expr(expr[index + 1 : end]) + expr[end])
            index = end + 1
        else:
            out.append(char)
            index += 1
    expr = "".join(out)
    # Ternary (lowest precedence, right-associative): c ? x : y
    marks = _top_level(expr, "?")
    if marks:
        condition, rest = expr[: marks[0]], expr[marks[0] + 1 :]
        colons = _top_level(rest, ":")
        if not colons:
            raise PebbleError("ternary '?' without ':'")
        # The first ':' not belonging to a nested ternary in the 'then' part.
        depth, split = 0, colons[0]
        for position in sorted(_top_level(rest, "?") + colons):
            if rest[position] == "?":
                depth += 1
            elif depth == 0:
                split = position
                break
            else:
                depth -= 1
        then, otherwise = rest[:split], rest[split + 1 :]
        then, otherwise = _rewrite_expr(then).strip(), _rewrite_expr(otherwise).strip()
        return f"(({then}) if ({_coalesce_expr(condition)}) else ({otherwise}))"
    return _coalesce_expr(expr)


def _coalesce_expr(expr: str) -> str:
    marks = _top_level(expr, "??")
    if not marks:
        return expr.strip()
    bounds = [0, *[m + 2 for m in marks]]
    ends = [*marks, len(expr)]
    parts = [expr[b:e].strip() for b, e in zip(bounds, ends, strict=True)]
    return f"coalesce({', '.join(parts)})"


_EQUALS = re.compile(r"(?<![\w.])equals(?![\w])")


def _outside_strings(expr: str, pattern: re.Pattern, replacement: str) -> str:
    """Apply ``pattern`` only to the parts of ``expr`` that are not string literals."""
    out, start, index = [], 0, 0
    while index < len(expr):
        if expr[index] in "'\"":
            out.append(pattern.sub(replacement, expr[start:index]))
            end = _skip_string(expr, index)
            out.append(expr[index:end])
            start = index = end
        else:
            index += 1
    out.append(pattern.sub(replacement, expr[start:]))
    return "".join(out)


def _pebble_expr(expr: str) -> str:
    if "equals" in expr:
        expr = _outside_strings(expr, _EQUALS, "==")
    return _rewrite_expr(expr) if "?" in expr else expr


def translate(text: str) -> str:
    """Rewrite Pebble-only operators (``??``, ``c ? x : y``, ``equals``) inside ``{{ }}`` and
    ``{% if/elif/set/for %}``."""
    if "?" not in text and "equals" not in text:
        return text

    def rewrite(match: re.Match) -> str:
        opening, body, closing = match.groups()
        if "?" not in body and "equals" not in body:
            return match.group(0)
        if opening.startswith("{{"):
            return f"{opening} {_pebble_expr(body)} {closing}"
        statement = _STATEMENT.match(body)
        if statement is None:
            return match.group(0)
        return f"{opening}{statement.group(1)}{_pebble_expr(statement.group(2))} {closing}"

    return _BLOCK.sub(rewrite, text)


FILTERS: dict[str, Callable[..., Any]] = {
    "json": _to_json,
    "toJson": _to_json,
    "toIon": _to_json,
    "fromJson": _from_json,
    "date": _date,
    "dateAdd": _date_add,
    "number": _number,
    "slugify": _slugify,
    "keys": _keys,
    "values": _values,
    "replace": _replace,
    "slice": _slice,
    "split": _split,
    "string": str,
    "jq": _jq,
    "startsWith": lambda v, p: str(v).startswith(str(p)),
    "endsWith": lambda v, s: str(v).endswith(str(s)),
    "substringBefore": lambda v, m: _between(v, m, before=True, last=False),
    "substringBeforeLast": lambda v, m: _between(v, m, before=True, last=True),
    "substringAfter": lambda v, m: _between(v, m, before=False, last=False),
    "substringAfterLast": lambda v, m: _between(v, m, before=False, last=True),
    "base64encode": _b64encode,
    "base64decode": _b64decode,
}


def _configured(lookup: Callable[[Any], Any], name: Any) -> Any:
    try:
        return lookup(name)
    except config_functions.ConfigLookupError as exc:
        raise PebbleError(str(exc)) from None


GLOBALS: dict[str, Any] = {
    "now": _now,
    "json": _from_json,
    "fromJson": _from_json,
    "coalesce": _coalesce,
    "range": range,
    "null": None,
    "printContext": _print_context,
    "secret": lambda name: _configured(config_functions.secret, name),  # configuration, never flow text
    "setting": lambda name: _configured(config_functions.setting, name),
}
TESTS: dict[str, Callable[[Any], bool]] = {
    "json": _is_json,
    "null": lambda v: v is None,
    "empty": lambda v: v is None or v == "" or v == [] or v == {},
}


def finalize(value: Any) -> Any:
    """Print values as Pebble/Kestra do: true/false, null as empty, maps and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    return value
