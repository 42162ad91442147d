"""Flow input types: coercion of raw values (CLI strings, form fields, JSON) and their validation.

``parse_value`` is the single rule for what an input accepts; the spec loader uses it to check
``defaults`` at load time and ``resolve_inputs`` uses it for every execution, so a default that loads
is a default that runs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml
from django.conf import settings

from orchestrator.flowmodel import input_options, storage
from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.masking import MASK
from orchestrator.flowmodel.templating import TemplateError, has_template, render_string

if TYPE_CHECKING:
    from orchestrator.flowmodel.spec import Flow, InputSpec

# Kestra's input types; BOOLEAN and ENUM are Kestra's deprecated spellings of BOOL and SELECT.
CANONICAL_TYPES = {
    "STRING": "STRING",
    "INT": "INT",
    "FLOAT": "FLOAT",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "SELECT": "SELECT",
    "ENUM": "SELECT",
    "MULTISELECT": "MULTISELECT",
    "DATE": "DATE",
    "DATETIME": "DATETIME",
    "TIME": "TIME",
    "DURATION": "DURATION",
    "EMAIL": "EMAIL",
    "SECRET": "SECRET",
    "JSON": "JSON",
    "URI": "URI",
    "YAML": "YAML",
    "ARRAY": "ARRAY",
    "FILE": "FILE",
}
NOT_SUPPORTED_YET: set[str] = set()
ARRAY_ITEM_TYPES = {
    "STRING",
    "INT",
    "FLOAT",
    "BOOL",
    "DATE",
    "DATETIME",
    "TIME",
    "DURATION",
    "EMAIL",
    "JSON",
    "URI",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

# Fixed limits (portal/settings.py documents them next to the configurable ones).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what a bigint column (and Kestra's Java long) holds
# A file system stores names of at most 255 bytes, and storage.put writes ".<name>.<32 hex>.tmp" first.
MAX_FILE_NAME_BYTES = 200
MAX_EMAIL_CHARS = 254  # RFC 5321's limit for an address
_MAX_FLOAT_TEXT = 400  # characters of a FLOAT as text: more digits than a double keeps
_MAX_INT_TEXT = 40  # characters of an INT as text: enough for any 64-bit value with spaces and a sign
# Kestra has no per-input message for ``validator``; this Portico key (like ``portico.options``) gives one.
VALIDATOR_MESSAGE_KEY = "portico.validatorMessage"
# The key of an error about all the inputs together; input ids cannot start with "_".
ALL_INPUTS = "__all__"
_MAX_UNKNOWN_REPORTED = 20  # unknown keys named in one error report (a hostile body may send thousands)


def _limit(name: str, default: int) -> int:
    """A ``PORTICO_MAX_*`` setting (portal/settings.py); the default where settings are not configured."""
    return int(getattr(settings, name, default)) if settings.configured else default


def text_limit() -> int:
    return _limit("PORTICO_MAX_INPUT_TEXT_BYTES", 64 * 1024)


def document_limit() -> int:
    return _limit("PORTICO_MAX_INPUT_DOCUMENT_BYTES", 256 * 1024)


def inputs_limit() -> int:
    return _limit("PORTICO_MAX_INPUTS_BYTES", 1024 * 1024)


def depth_limit() -> int:
    return _limit("PORTICO_MAX_JSON_DEPTH", 32)


def _size(limit: int) -> str:
    """``65536`` → ``64 KB``: limits are worded the way people read sizes."""
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KB"
    return f"{limit} bytes"


def _utf8(text: str) -> bytes:
    """``text`` as stored. NUL and lone surrogates cannot be stored (PostgreSQL refuses them): refused."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None


def _check_text(text: str, limit: int, *, document: bool = False) -> None:
    if len(text) > limit or len(_utf8(text)) > limit:
        raise ValueError(f"is too {'large' if document else 'long'} (at most {_size(limit)})")


def check_tree(value: Any, *, depth: int | None = None) -> None:
    """Refuse what JSON cannot store or what costs too much to walk: nesting deeper than ``depth``
    (``PORTICO_MAX_JSON_DEPTH``), NaN/Infinity, NUL characters and lone surrogates.

    Iterative, so a deep value raises a ``ValueError`` instead of a ``RecursionError``.
    """
    limit = depth_limit() if depth is None else depth
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            _utf8(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("must not contain NaN or Infinity")
        elif isinstance(item, (dict, list, tuple)):
            if level + 1 > limit:
                raise ValueError(f"is nested too deeply (at most {limit} levels)")
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str):
                        _utf8(key)
                stack.extend((child, level + 1) for child in item.values())
            else:
                stack.extend((child, level + 1) for child in item)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    result = float(text)
    if not math.isfinite(result):
        raise ValueError(f"{text} is too large a number")
    return result


def _json_loads(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity (Python's extension; PostgreSQL's JSON refuses them) and
    words every problem, a too deep document included."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ValueError(f"must be valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"is nested too deeply (at most {depth_limit()} levels)") from None
    except ValueError as exc:  # a NaN, an infinite float, an integer of thousands of digits
        raise ValueError(f"must be valid JSON ({exc})") from None


class FormatMismatch(ValueError):
    """A value does not match its input's ``validator``. People read plain words (and the flow's
    ``portico.validatorMessage``), never the pattern; a flow's author, loading it, reads ``pattern``."""

    def __init__(self, pattern: str, message: str | None) -> None:
        plain = "is not in the expected format"
        super().__init__(f"{plain}. {message.strip().rstrip('.')}" if message and message.strip() else plain)
        self.pattern = pattern


class _Cleared:
    """The type of ``CLEARED``."""

    def __repr__(self) -> str:
        return "CLEARED"


# A value someone emptied on purpose in a form that showed the default (an optional input): it stays
# unset. An absent or null value still takes the default, as in Kestra (``FlowInputOutput``).
CLEARED = _Cleared()


class InputError(ValueError):
    """One input value is unacceptable; ``message`` reads well after the input id."""

    def __init__(self, input_id: str, message: str) -> None:
        super().__init__(f"{input_id}: {message}")
        self.input_id = input_id
        self.message = message


class InputsInvalid(ValueError):
    """Several inputs may be wrong at once; forms show each message next to its field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class FileUpload:
    """A FILE input's content as submitted (CLI ``@path``, a form upload), before it is stored.

    ``resolve_inputs`` stores it in the execution's storage folder; the input's value is then the
    ``kestra:///...`` URI, as in Kestra.
    """

    name: str
    data: bytes

    def __post_init__(self) -> None:
        base = PurePath(self.name.replace("\\", "/")).name
        object.__setattr__(self, "name", base)


def canonical_type(name: Any) -> str | None:
    return CANONICAL_TYPES.get(name) if isinstance(name, str) else None


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _echo(values: list[str], *, items: int = 5, chars: int = 40) -> str:
    """Refused values quoted back in a message, shortened: a message must not grow with the input."""
    shown = [v if len(v) <= chars else f"{v[:chars]}…" for v in values[:items]]
    return ", ".join(shown) + (f" and {len(values) - items} more" if len(values) > items else "")


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        _check_text(value, text_limit())
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise ValueError("must be a string")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a string")
    text = str(value)
    _check_text(text, text_limit())
    return text


def _as_int(value: Any) -> int:
    """An integer a bigint column stores: beyond 64 bits is refused, not truncated by the database."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9]+\s*", value):
        if len(value) > _MAX_INT_TEXT:
            raise ValueError(f"must be between {INT_MIN} and {INT_MAX}")
        result = int(value)
    else:
        raise ValueError("must be an integer")
    if not INT_MIN <= result <= INT_MAX:
        raise ValueError(f"must be between {INT_MIN} and {INT_MAX}")
    return result


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise ValueError("must be a finite number") from None
    else:
        text = str(value).strip()
        _check_text(text, _MAX_FLOAT_TEXT)
        try:
            result = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
    if not math.isfinite(result):
        raise ValueError("must be a finite number")
    return result


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be true or false")


_MAX_DATE_TEXT = 64  # an ISO date, date-time or time with offset and microseconds is shorter


def _date_text(value: Any, message: str) -> str:
    text = str(value).strip()
    if len(text) > _MAX_DATE_TEXT:
        raise ValueError(message)
    return text


def _as_date(value: Any) -> str:
    if isinstance(value, datetime):
        raise ValueError("must be a date like 2024-01-31")
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(_date_text(value, "must be a date like 2024-01-31")).isoformat()
    except ValueError:
        raise ValueError("must be a date like 2024-01-31") from None


def _as_datetime(value: Any) -> str:
    """An aware date-time whose UTC instant exists (years 1 to 9999): comparing or converting one that
    does not (0001-01-01T00:00+01:00) would raise ``OverflowError`` later, far from the form."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = _date_text(value, "must be a date-time like 2024-01-31T12:00:00Z")
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ValueError("must be a date-time like 2024-01-31T12:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("must be a date-time with a time zone, like 2024-01-31T12:00:00Z")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be between the years 1 and 9999 in UTC") from None
    return parsed.isoformat().replace("+00:00", "Z")


def _as_time(value: Any) -> str:
    if isinstance(value, time):
        return value.isoformat()
    try:
        return time.fromisoformat(_date_text(value, "must be a time like 13:45:00")).isoformat()
    except ValueError:
        raise ValueError("must be a time like 13:45:00") from None


def _as_duration(value: Any) -> str:
    return format_duration(parse_duration(value))


def _as_email(value: Any) -> str:
    text = _as_string(value).strip()
    if len(text) > MAX_EMAIL_CHARS:
        raise ValueError(f"is too long for an email address (at most {MAX_EMAIL_CHARS} characters)")
    if not _EMAIL.fullmatch(text):
        raise ValueError("must be an email address")
    return text


def _stored_size(value: Any, *, strict: bool = True) -> int:
    """Bytes of ``value`` as JSON; ``strict=False`` counts what is not JSON (a YAML date) as its text."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=None if strict else str)
    return len(text.encode("utf-8", errors="replace"))


def _check_document(value: Any, *, strict: bool = True) -> None:
    """A JSON-like value within the depth and size limits, as it will be stored."""
    check_tree(value)
    limit = document_limit()
    try:
        size = _stored_size(value, strict=strict)
    except (TypeError, ValueError):
        raise ValueError("must be JSON-serialisable") from None
    if size > limit:
        raise ValueError(f"is too large (at most {_size(limit)})")


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        _check_text(value, document_limit(), document=True)
        value = _json_loads(value)
    _check_document(value)
    return value


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML without aliases, nested at most ``PORTICO_MAX_JSON_DEPTH`` deep.

    An alias (``*a``) repeats a whole subtree: nine of them nested make a few hundred bytes expand to
    tens of megabytes ("billion laughs"). Input values have no need for them, so they are refused before
    anything is expanded; the depth is checked while composing, before any recursion gets deep.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._max_depth = depth_limit()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise ValueError("must not use YAML aliases (*name); write the value out instead")
        nests = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
        if nests:
            self._depth += 1
            if self._depth > self._max_depth:
                raise ValueError(f"is nested too deeply (at most {self._max_depth} levels)")
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1


def _yaml_loads(text: str) -> Any:
    loader = _YamlLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError:
        raise ValueError("must be valid YAML") from None
    except RecursionError:
        raise ValueError(f"is nested too deeply (at most {depth_limit()} levels)") from None
    except ValueError as exc:
        message = str(exc)
        raise ValueError(message if message.startswith(("must", "is")) else "must be valid YAML") from None
    finally:
        loader.dispose()


def _as_yaml(value: Any) -> Any:
    if isinstance(value, str):
        _check_text(value, document_limit(), document=True)
        value = _yaml_loads(value)
        if isinstance(value, str):
            return value
    return _as_json(value)


def _as_uri(value: Any) -> str:
    text = _as_string(value).strip()  # within PORTICO_MAX_INPUT_TEXT_BYTES
    parts = urlsplit(text)
    if not parts.scheme or not (parts.netloc or parts.path) or " " in text:
        raise ValueError("must be a URI like https://example.com/path")
    return text


def _as_file(value: Any) -> str:
    if isinstance(value, FileUpload):
        raise ValueError("an uploaded file can only be stored when an execution starts")
    text = _as_string(value).strip()
    if not storage.is_uri(text):
        raise ValueError("must be a file upload or an internal storage URI (kestra:///...)")
    return text


def _check_file_name(spec: InputSpec, upload: FileUpload) -> None:
    """``allowedFileExtensions`` (Kestra: e.g. ``[".csv", ".txt"]``), the name a file system can store
    and the configured size limit."""
    if not upload.name:
        raise ValueError("the uploaded file has no name")
    if len(_utf8(upload.name)) > MAX_FILE_NAME_BYTES:
        raise ValueError(
            f"has too long a file name (at most {MAX_FILE_NAME_BYTES} bytes, fewer with accents): "
            "rename the file"
        )
    allowed = spec.extra.get("allowedFileExtensions")
    if allowed:
        suffixes = [str(ext).lower() if str(ext).startswith(".") else f".{ext}".lower() for ext in allowed]
        if not any(upload.name.lower().endswith(ext) for ext in suffixes):
            raise ValueError(f"must be a file ending in {', '.join(suffixes)}")
    limit = settings.PORTICO_MAX_UPLOAD_BYTES
    if len(upload.data) > limit:
        raise ValueError(f"is larger than the {limit / 1024 / 1024:g} MB allowed for uploads")


def store_upload(spec: InputSpec, upload: FileUpload, prefix: str) -> str:
    """Check and store an uploaded FILE input under ``<prefix>/inputs/<input id>/``; its URI."""
    _check_file_name(spec, upload)
    try:
        return storage.put(f"{prefix}/inputs/{spec.id}", upload.name, upload.data)
    except storage.StorageError as exc:
        raise ValueError(str(exc)) from None
    except OSError as exc:  # a name the file system refuses: the requester can rename the file
        raise ValueError(f"cannot be stored under this name ({exc.strerror or exc})") from None


def _as_list(value: Any) -> list[Any]:
    """A list within ``PORTICO_MAX_INPUT_DOCUMENT_BYTES`` (its items are checked by their own type)."""
    if isinstance(value, str):
        text = value.strip()
        _check_text(text, document_limit(), document=True)
        if text.startswith("["):
            try:
                value = _json_loads(text)
            except ValueError as exc:
                message = str(exc)
                if message.startswith("is nested"):
                    raise
                raise ValueError('must be a JSON list like ["a", "b"]') from None
        else:
            value = [part.strip() for part in text.split(",")] if text else []
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ValueError("must be a list")
    _check_document(value, strict=False)
    return value


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "STRING": _as_string,
    "SECRET": _as_string,
    "INT": _as_int,
    "FLOAT": _as_float,
    "BOOL": _as_bool,
    "DATE": _as_date,
    "DATETIME": _as_datetime,
    "TIME": _as_time,
    "DURATION": _as_duration,
    "EMAIL": _as_email,
    "JSON": _as_json,
    "YAML": _as_yaml,
    "URI": _as_uri,
    "FILE": _as_file,
}


def choices(spec: InputSpec) -> list[tuple[str, str]]:
    """(value, label) pairs of a SELECT/MULTISELECT: its ``values``, or its ``portico.options`` provider's.

    Raises ``input_options.OptionsUnavailable`` when the provider cannot answer.
    """
    provider = spec.extra.get(input_options.OPTIONS_KEY)
    if provider:
        return input_options.options(provider)
    return [(str(v), str(v)) for v in (spec.values or [])]


def _choices(spec: InputSpec) -> list[str]:
    try:
        return [value for value, _ in choices(spec)]
    except input_options.OptionsUnavailable as exc:
        raise ValueError(f"cannot check the value: the list of choices is unavailable ({exc})") from None


def _check_bounds(spec: InputSpec, value: Any) -> None:
    """min/max for numbers and durations; after/before (or min/max) for dates and times."""
    kind = spec.type
    low, high = spec.min, spec.max
    if kind in ("DATE", "DATETIME", "TIME"):
        low = spec.extra.get("after", low)
        high = spec.extra.get("before", high)
    if low is None and high is None:
        return
    key: Callable[[Any], Any]
    if kind in ("INT", "FLOAT"):
        key = _as_float
    elif kind == "DURATION":
        key = parse_duration
    elif kind == "DATE":
        key = lambda v: date.fromisoformat(_as_date(v))  # noqa: E731
    elif kind == "DATETIME":
        key = lambda v: datetime.fromisoformat(_as_datetime(v).replace("Z", "+00:00"))  # noqa: E731
    elif kind == "TIME":
        key = lambda v: time.fromisoformat(_as_time(v))  # noqa: E731
    else:
        return
    numeric = kind in ("INT", "FLOAT", "DURATION")
    if low is not None and key(value) < key(low):
        raise ValueError(f"must be at least {_fmt(low)}" if numeric else f"must be on or after {low}")
    if high is not None and key(value) > key(high):
        raise ValueError(f"must be at most {_fmt(high)}" if numeric else f"must be on or before {high}")


def _check_string(spec: InputSpec, value: str) -> None:
    if spec.validator is not None and re.fullmatch(spec.validator, value) is None:
        raise FormatMismatch(spec.validator, spec.validator_message)
    min_length, max_length = spec.extra.get("minLength"), spec.extra.get("maxLength")
    if min_length is not None and len(value) < int(min_length):
        raise ValueError(f"must be at least {min_length} characters long")
    if max_length is not None and len(value) > int(max_length):
        raise ValueError(f"must be at most {max_length} characters long")


def coerce(spec: InputSpec, raw: Any) -> Any:
    """Coerce and validate ``raw`` for ``spec``; raise ``ValueError`` carrying the bare message."""
    kind = spec.type
    if kind == "SELECT":
        value = _as_string(raw)
        choices = _choices(spec)
        if choices and value not in choices and not spec.extra.get("allowCustomValue", False):
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return value
    if kind == "MULTISELECT":
        values = [_as_string(v) for v in _as_list(raw)]
        choices = _choices(spec)
        if choices and not spec.extra.get("allowCustomValue", False):
            bad = [v for v in values if v not in choices]
            if bad:
                raise ValueError(f"must be among: {', '.join(choices)} (got {_echo(bad)})")
        return values
    if kind == "ARRAY":
        item_type = canonical_type(spec.extra.get("itemType")) or "STRING"
        convert = _SCALARS[item_type]
        out = []
        for index, item in enumerate(_as_list(raw)):
            try:
                out.append(convert(item))
            except ValueError as exc:
                raise ValueError(f"item {index}: {exc}") from None
        return out
    if kind not in _SCALARS:
        raise ValueError(f"input type '{kind}' is not supported yet")
    value = _SCALARS[kind](raw)
    if kind in ("STRING", "SECRET"):
        _check_string(spec, value)
    _check_bounds(spec, value)
    return value


def parse_value(spec: InputSpec, raw: Any) -> Any:
    """Coerce a CLI/form/JSON value to a JSON-serialisable typed value, or raise ``InputError``."""
    try:
        return coerce(spec, raw)
    except ValueError as exc:
        raise InputError(spec.id, str(exc)) from None


def _is_missing(value: Any) -> bool:
    return (
        value is None or (isinstance(value, str) and value == "") or (isinstance(value, list) and not value)
    )


def resolve_inputs(flow: Flow, raw: dict[str, Any], *, files_prefix: str | None = None) -> dict[str, Any]:
    """Apply defaults, required and validation to submitted values; report every problem at once.

    Unknown keys are rejected, so a typo in a CLI ``--input`` never silently runs with the default.
    ``FileUpload`` values of FILE inputs are stored under ``files_prefix`` (the execution's storage
    folder, ``storage.execution_prefix``) and become their ``kestra:///`` URI; without a prefix they
    are only checked and returned as they are (a form validating before the request is submitted).
    """
    errors: dict[str, str] = {}
    known = {spec.id for spec in flow.inputs}
    unknown = [key for key in raw if key not in known]
    for key in unknown[:_MAX_UNKNOWN_REPORTED]:
        errors[str(key)[:100]] = "unknown input"
    if len(unknown) > _MAX_UNKNOWN_REPORTED:
        errors[ALL_INPUTS] = f"{len(unknown)} unknown inputs in all"
    resolved: dict[str, Any] = {}
    for spec in flow.inputs:
        value = raw.get(spec.id)
        if value is CLEARED:
            value = None  # emptied on purpose: no default (a required input then reports "is required")
        elif _is_missing(value):
            # A declared default, even an empty string, is a value (Kestra: required + defaults: '' is fine).
            value = spec.defaults
            if has_template(value):
                # Kestra renders expression defaults (``{{ now() }}``, earlier inputs) when a run starts.
                try:
                    value = render_string(value, {"inputs": dict(resolved)})
                except TemplateError as exc:
                    errors[spec.id] = f"cannot compute the default: {exc}"
                    continue
        if value is None:
            if spec.required:
                errors[spec.id] = "is required"
            else:
                resolved[spec.id] = None
            continue
        try:
            if isinstance(value, FileUpload) and spec.type == "FILE":
                if files_prefix is None:  # checking a form: the upload is stored when it is submitted
                    _check_file_name(spec, value)
                    resolved[spec.id] = value
                    continue
                value = store_upload(spec, value, files_prefix)
            resolved[spec.id] = coerce(spec, value)
        except ValueError as exc:
            errors[spec.id] = str(exc)
    if not errors:
        _check_total(resolved, errors)
    if errors:
        raise InputsInvalid(errors)
    return resolved


def _check_total(resolved: dict[str, Any], errors: dict[str, str]) -> None:
    """All values together within ``PORTICO_MAX_INPUTS_BYTES``: the request row, the execution row and
    the audit row each hold a copy. A FILE still to be stored counts as its name (its URI once stored)."""
    limit = inputs_limit()
    sizes = {
        key: _stored_size(value.name if isinstance(value, FileUpload) else value, strict=False)
        for key, value in resolved.items()
    }
    if sum(sizes.values()) > limit:
        largest = max(sizes, key=lambda key: sizes[key])
        errors[ALL_INPUTS] = (
            f"the inputs together are too large (at most {_size(limit)}; '{largest}' is the largest)"
        )


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """Inputs as templates see them: Kestra expands dotted ids, so ``nested.string`` is read as
    ``{{ inputs.nested.string }}``. The flat key stays available too (``inputs['nested.string']``)."""
    result: dict[str, Any] = dict(values)
    for key, value in values.items():
        if "." not in key:
            continue
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {} if child is None else child
            if not isinstance(child, dict):
                break  # a scalar input already owns this name; keep the flat key only
            node = child
        else:
            node[leaf] = value
    return result


def secret_ids(flow: Flow) -> set[str]:
    return {spec.id for spec in flow.inputs if spec.type == "SECRET"}


def mask_inputs(flow: Flow, values: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``values`` safe to display or log: SECRET inputs replaced by ``MASK``."""
    secrets = secret_ids(flow)
    return {k: (MASK if k in secrets and v is not None else v) for k, v in values.items()}
