"""Pebble compatibility for Kestra expressions: filters, functions, tests and operator rewriting.

Kestra renders ``{{ ... }}`` with Pebble; Portico renders with Jinja2. The shared subset needs nothing,
and this module supplies the rest: Pebble-only filters (``date('yyyy-MM-dd')``, ``jq``, ``dateAdd``...),
functions (``now()``, ``json()``) and a source rewrite for operators Jinja lacks (``??``, ``c ? x : y``,
``equals``). Problems raise ``PebbleError``; ``templating`` turns them into ``TemplateError``.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from jinja2 import Undefined, pass_context

from orchestrator.flowmodel import config_functions


class PebbleError(Exception):
    """A filter or function got a value it cannot handle; the message names the filter."""


# ------------------------------------------------------------------------------------------ limits
# A template is flow text, but what it works on (inputs, webhook bodies) is not: a render must stay small
# and short whatever it is given. Limits are checked *before* an amplifying operation allocates
# ('a' * 10**8, range(10**7), str.ljust(10**9)) and on the output as it streams; time is checked at every
# call, attribute access, operator and range step. An empty loop over a large context list is the one
# thing not interrupted (its length is bounded by the input limits).


@dataclass(frozen=True)
class Budget:
    """The limits of one render (``PORTICO_MAX_TEMPLATE_*`` settings) and when it must end."""

    max_range: int
    max_chars: int
    seconds: float
    deadline: float


_budget: ContextVar[Budget | None] = ContextVar("template_budget", default=None)
_MAX_POWER_BITS = 64 * 1024  # an integer ** integer result larger than this is refused before computing


def _new_budget() -> Budget:
    seconds = float(getattr(settings, "PORTICO_MAX_TEMPLATE_SECONDS", 10.0))
    return Budget(
        max_range=int(getattr(settings, "PORTICO_MAX_TEMPLATE_RANGE", 10_000)),
        max_chars=int(getattr(settings, "PORTICO_MAX_TEMPLATE_OUTPUT_CHARS", 16 * 1024 * 1024)),
        seconds=seconds,
        deadline=time.monotonic() + seconds,
    )


def budget() -> Budget:
    """The budget of the render under way (a fresh one outside any render)."""
    return _budget.get() or _new_budget()


@contextmanager
def render_budget() -> Iterator[Budget]:
    """One budget for a render and every render nested in it (lazy variables rendered on read)."""
    current = _budget.get()
    if current is not None:
        yield current
        return
    token = _budget.set(_new_budget())
    try:
        yield budget()
    finally:
        _budget.reset(token)


def check_time() -> None:
    current = _budget.get()
    if current is not None and time.monotonic() > current.deadline:
        raise PebbleError(f"template limit: rendering took longer than {current.seconds:g} seconds")


def check_chars(count: int, what: str = "the result") -> None:
    limit = budget().max_chars
    if count > limit:
        raise PebbleError(f"template limit: {what} would be {count} characters or items (at most {limit})")


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def check_repeat(left: Any, right: Any) -> None:
    """``'a' * n`` / ``[x] * n``: the size is known before anything is allocated."""
    for sequence, times in ((left, right), (right, left)):
        size = _length(sequence)
        if size is not None and isinstance(times, int):
            check_chars(size * max(times, 0), "a repetition")


def check_power(left: Any, right: Any) -> None:
    """``10 ** (10 ** 10)`` would compute for hours: refuse integer powers with a huge result."""
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if right * math.log2(abs(left)) > _MAX_POWER_BITS:
            raise PebbleError("template limit: a power (**) would be too large a number")


def check_concat(left: Any, right: Any) -> None:
    if (size := _length(left)) is not None and (other := _length(right)) is not None:
        check_chars(size + other, "a concatenation")


# Widths and precisions: in %-specs (``%-10.3f``) and in the spec after ':' of {}-fields (``{:>10}``).
_PERCENT_WIDTHS = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\d*|\*)(?:\.(\d*|\*))?")
_BRACE_SPECS = re.compile(r"\{[^{}]*:([^{}]*)\}")
_DIGITS = re.compile(r"\d+")
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _width(digits: str) -> int:
    return int(digits) if len(digits) < 19 else 2**63  # int() of thousands of digits is refused anyway


def check_format(text: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> None:
    """``'%99999999d' % 1``, ``'{:>99999999}'.format(x)``, ``'%*d' % (10**9, 1)``: a width from the format
    text or from its arguments larger than the output limit is refused before formatting."""
    if not isinstance(text, str):
        return
    limit = budget().max_chars
    numbers: list[int] = []
    from_arguments = _NESTED_SPEC.search(text) is not None
    for width, precision in _PERCENT_WIDTHS.findall(text):
        numbers += [_width(n) for n in (width, precision) if n.isdigit()]
        from_arguments = from_arguments or "*" in (width, precision)
    for spec in _BRACE_SPECS.findall(text):
        numbers += [_width(n) for n in _DIGITS.findall(spec)]
    if from_arguments:  # '%*d' and '{:{}}' take their width from the arguments
        values = [*args, *(kwargs or {}).values()]
        for value in list(values):
            if isinstance(value, (tuple, list)):
                values += list(value)
            elif isinstance(value, dict):
                values += list(value.values())
        numbers += [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if any(n > limit for n in numbers):
        raise PebbleError(f"template limit: a format width is larger than {limit}")


def check_replace(text: str, old: str, new: str, count: int = -1) -> None:
    if len(new) <= len(old):
        return
    found = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    check_chars(len(text) + found * (len(new) - len(old)), "a replacement")


def check_join(separator: Any, items: Any) -> None:
    if isinstance(separator, str) and hasattr(items, "__len__"):
        check_chars(len(separator) * max(len(items) - 1, 0), "a join")


class BoundedRange(Sequence):
    """What ``range()`` gives a template: a ``range`` that checks the render's time while iterated."""

    __slots__ = ("_items",)

    def __init__(self, items: range) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[int]:
        items = self._items
        for start in range(0, len(items), 256):
            check_time()
            yield from items[start : start + 256]

    def __reversed__(self) -> Iterator[int]:
        return reversed(self._items)

    def __contains__(self, item: Any) -> bool:
        return item in self._items

    def __eq__(self, other: Any) -> bool:
        return self._items == (other._items if isinstance(other, BoundedRange) else other)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return repr(self._items)


def bounded_range(*args: Any) -> BoundedRange:
    """Python's ``range`` with at most ``PORTICO_MAX_TEMPLATE_RANGE`` items (Jinja's own sandbox cap,
    which a plain ``range`` global replaced, was 100,000)."""
    items = range(*args)
    limit = budget().max_range
    try:
        count = len(items)
    except OverflowError:
        count = limit + 1
    if count > limit:
        raise PebbleError(f"template limit: range() may have at most {limit} items")
    return BoundedRange(items)


def _check_filter_arguments(name: str, values: list[Any], kwargs: dict[str, Any]) -> None:
    """Filters whose extra arguments make their result larger than their input: checked before they run."""
    if not values:
        return
    limit = budget().max_chars
    extra = [*values[1:], *kwargs.values()]
    if name in ("center", "batch") and any(isinstance(a, int) and a > limit for a in extra):
        raise PebbleError(f"template limit: {name}() would produce more than {limit} characters or items")
    if name == "indent":
        width = values[1] if len(values) > 1 else kwargs.get("width", 4)
        each = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(values[0])
        check_chars(len(text) + max(each, 0) * (text.count("\n") + 1), "indent()")
    elif name == "wordwrap":
        wrap = kwargs.get("wrapstring", values[4] if len(values) > 4 else None)
        if isinstance(wrap, str):
            text = str(values[0])
            check_chars(len(text) * (len(wrap) + 1), "wordwrap()")
    elif name == "format":
        check_format(values[0], values[1:], kwargs)
    elif name == "join":
        check_join(values[1] if len(values) > 1 else kwargs.get("d", ""), values[0])


def guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` checking the time before it runs, amplifying arguments before it allocates and the
    size of what it returns. ``functools.wraps`` keeps Jinja's ``pass_context`` marks."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        # pass_context / pass_environment filters get Jinja's object first: it is not a value.
        values = list(args[1:] if getattr(function, "jinja_pass_arg", None) else args)
        _check_filter_arguments(name, values, kwargs)
        result = function(*args, **kwargs)
        if isinstance(result, (str, list)):
            check_chars(len(result))
        return result

    return guarded


_PADDING_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}


def check_call(function: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """A method call from a template whose arguments would make a huge string: padding, format, replace,
    join on ``str``."""
    check_time()
    target = getattr(function, "__wrapped__", function)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(target, "__name__", "")
    if name in _PADDING_METHODS:
        limit = budget().max_chars
        if any(isinstance(a, int) and a > limit for a in [*args, *kwargs.values()]):
            raise PebbleError(f"template limit: {name}() would produce more than {limit} characters")
    elif name in ("format", "format_map"):
        check_format(owner, args, kwargs)
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        check_replace(owner, args[0], args[1], args[2] if len(args) > 2 and isinstance(args[2], int) else -1)
    elif name == "join" and args:
        check_join(owner, args[0])


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
            check_replace(text, str(key), str(replacement))
            text = text.replace(str(key), str(replacement))
        return text
    check_replace(text, str(old), str(new), -1 if count is None else count)
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
    "range": bounded_range,
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
