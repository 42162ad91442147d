"""Checks of single values and of the ``retry`` block, shared by the flow, task and input parsers.

They live below those parsers so each can use them without importing another parser.
"""

from __future__ import annotations

from typing import Any

from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED, ParseContext
from orchestrator.flowmodel.templating import has_template
from orchestrator.flowmodel.yamlsource import key_line, type_name, value_line

RETRY_KEYS = {  # type -> (required, optional)
    "constant": ({"interval"}, {"maxInterval"}),
    "exponential": ({"interval", "maxInterval"}, {"delayFactor"}),
    "random": ({"minInterval", "maxInterval"}, set()),
}
RETRY_COMMON = {"type", "maxAttempt", "maxDuration", "warningOnRetry", "behavior"}
RETRY_DURATIONS = {"interval", "maxInterval", "minInterval", "maxDuration"}


class Checks:
    """Typed-value checks reporting to a ``ParseContext``; parsers subclass it to share its context."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx

    def refuse(self, doc: dict, keys: frozenset[str] | set[str], path: str) -> None:
        """Report each of ``keys`` present in ``doc`` as "not supported yet".

        Valid Kestra keys whose behaviour Portico lacks are refused rather than kept and ignored: a flow
        relying on them would otherwise load and then behave differently from Kestra without a word.
        """
        for key in doc:
            if key in keys:
                self.ctx.error(key_line(doc, key), f"{path}.{key}" if path else str(key), NOT_SUPPORTED)

    def optional_string(self, doc: dict, key: str, path: str) -> str | None:
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            self.ctx.error(value_line(doc, key), path, f"must be a string, got {type_name(value)}")
            return None
        return value

    def boolean(self, doc: dict, key: str, path: str, default: bool) -> bool:
        value = doc.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.ctx.error(value_line(doc, key), path, f"must be true or false, got {type_name(value)}")
            return default
        return value

    def duration(self, value: Any, line: int, path: str) -> None:
        """An ISO-8601 duration; a template is rendered at run time and checked then."""
        if value is None or has_template(value):
            return
        try:
            parse_duration(value)
        except ValueError as exc:
            self.ctx.error(line, path, str(exc))

    def retry(self, retry: Any, line: int, path: str) -> None:
        """A ``retry`` block, the same shape on a task and on the flow."""
        if not isinstance(retry, dict):
            self.ctx.error(line, path, f"must be a mapping, got {type_name(retry)}")
            return
        kind = retry.get("type")
        if not isinstance(kind, str) or kind not in RETRY_KEYS:
            self.ctx.error(
                value_line(retry, "type", line),
                f"{path}.type",
                "required property missing"
                if kind is None
                else f"unknown retry type '{kind}' (use constant, exponential or random)",
            )
            return
        required, optional = RETRY_KEYS[kind]
        for key in retry:
            if key not in required | optional | RETRY_COMMON:
                self.ctx.error(key_line(retry, key), f"{path}.{key}", f"unknown property for a {kind} retry")
        for key in required - set(retry):
            self.ctx.error(line, f"{path}.{key}", "required property missing")
        for key in RETRY_DURATIONS & set(retry):
            self.duration(retry[key], value_line(retry, key), f"{path}.{key}")
        attempts = retry.get("maxAttempt")
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            self.ctx.error(value_line(retry, "maxAttempt"), f"{path}.maxAttempt", "must be an integer ≥ 1")
        behavior = retry.get("behavior")
        if behavior is not None and behavior not in ("RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"):
            self.ctx.error(
                value_line(retry, "behavior"),
                f"{path}.behavior",
                "must be RETRY_FAILED_TASK or CREATE_NEW_EXECUTION",
            )
