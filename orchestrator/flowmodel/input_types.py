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
from datetime import date, datetime, time
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

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


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise ValueError("must be a string")
    return str(value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise ValueError("must be an integer")


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        try:
            result = float(str(value).strip())
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


def _as_date(value: Any) -> str:
    if isinstance(value, datetime):
        raise ValueError("must be a date like 2024-01-31")
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("must be a date like 2024-01-31") from None


def _as_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ValueError("must be a date-time like 2024-01-31T12:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("must be a date-time with a time zone, like 2024-01-31T12:00:00Z")
    return parsed.isoformat().replace("+00:00", "Z")


def _as_time(value: Any) -> str:
    if isinstance(value, time):
        return value.isoformat()
    try:
        return time.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("must be a time like 13:45:00") from None


def _as_duration(value: Any) -> str:
    return format_duration(parse_duration(value))


def _as_email(value: Any) -> str:
    text = _as_string(value).strip()
    if not _EMAIL.fullmatch(text):
        raise ValueError("must be an email address")
    return text


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"must be valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ValueError("must be JSON-serialisable") from None
    return value


def _as_yaml(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ValueError("must be valid YAML") from None
    return _as_json(value) if not isinstance(value, str) else value


def _as_uri(value: Any) -> str:
    text = _as_string(value).strip()
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
    """``allowedFileExtensions`` (Kestra: e.g. ``[".csv", ".txt"]``) and the configured size limit."""
    from django.conf import settings

    if not upload.name:
        raise ValueError("the uploaded file has no name")
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


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError('must be a JSON list like ["a", "b"]') from None
        else:
            value = [part.strip() for part in text.split(",")] if text else []
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ValueError("must be a list")
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
    if low is not None and key(value) < key(low):
        raise ValueError(
            f"must be ≥ {_fmt(low)}" if kind in ("INT", "FLOAT", "DURATION") else f"must be after {low}"
        )
    if high is not None and key(value) > key(high):
        raise ValueError(
            f"must be ≤ {_fmt(high)}" if kind in ("INT", "FLOAT", "DURATION") else f"must be before {high}"
        )


def _check_string(spec: InputSpec, value: str) -> None:
    if spec.validator is not None and re.fullmatch(spec.validator, value) is None:
        raise ValueError(f"must match {spec.validator}")
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
                raise ValueError(f"must be among: {', '.join(choices)} (got {', '.join(bad)})")
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
    for key in raw:
        if key not in known:
            errors[key] = "unknown input"
    resolved: dict[str, Any] = {}
    for spec in flow.inputs:
        value = raw.get(spec.id)
        if _is_missing(value):
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
    if errors:
        raise InputsInvalid(errors)
    return resolved


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
