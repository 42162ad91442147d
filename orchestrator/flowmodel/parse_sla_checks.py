"""The flow-level ``sla`` and ``checks`` lists: their shape, Kestra's defaults, errors with file:line:field.

``sla`` follows Kestra's ``SLA`` classes (``io.kestra.core.models.flows.sla``): ``id``, ``type`` and
``behavior`` are required (Kestra gives ``behavior`` no default), ``labels`` optional; MAX_DURATION needs a
positive ``duration`` (a plain ISO-8601 duration: the property is not dynamic), EXECUTION_ASSERTION an
``assert`` expression. ``checks`` follows Kestra's ``Check``: ``condition`` and ``message`` are required,
``style`` defaults to INFO and ``behavior`` to BLOCK_EXECUTION; Kestra 2.0 renames ``condition`` to
``when`` and keeps the old name as an alias, so both spellings are read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrator.flowmodel import templating
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.parse_values import Checks
from orchestrator.flowmodel.parsed_flow import CheckSpec, SlaSpec
from orchestrator.flowmodel.yamlsource import item_line, key_line, type_name, value_line

SLA_TYPES = ("MAX_DURATION", "EXECUTION_ASSERTION")
SLA_BEHAVIORS = ("FAIL", "CANCEL", "NONE")
SLA_KEYS = frozenset({"id", "type", "behavior", "labels", "duration", "assert"})
CHECK_STYLES = ("ERROR", "SUCCESS", "WARNING", "INFO")
CHECK_BEHAVIORS = ("BLOCK_EXECUTION", "FAIL_EXECUTION", "CREATE_EXECUTION")
CHECK_KEYS = frozenset({"condition", "when", "message", "style", "behavior"})
MAX_ITEMS = 100  # a flow with more SLAs or checks than this is not a flow a person wrote
MAX_TEXT = 10_000  # characters of an assertion, a condition or a message


class SlaChecksParser(Checks):
    """Parses ``sla`` and ``checks``; every problem goes to the shared context."""

    def sla(self, doc: dict) -> list[SlaSpec]:
        items = self._items(doc, "sla")
        result: list[SlaSpec] = []
        seen: set[str] = set()
        for index, item, line in items:
            path = f"sla[{index}]"
            self._unknown_keys(item, SLA_KEYS, path)
            sla_id = self._text(item, "id", path, line)
            if sla_id is not None:
                if sla_id in seen:
                    self.ctx.error(value_line(item, "id", line), f"{path}.id", f"duplicate SLA id '{sla_id}'")
                seen.add(sla_id)
            sla_type = self._choice(item, "type", path, line, SLA_TYPES, required=True, what="SLA type")
            behavior = self._choice(item, "behavior", path, line, SLA_BEHAVIORS, required=True)
            labels = self._labels(item, path, line)
            duration = self._duration(item, path, line) if sla_type == "MAX_DURATION" else None
            assertion = self._assertion(item, path, line) if sla_type == "EXECUTION_ASSERTION" else None
            for key, owner in (("duration", "MAX_DURATION"), ("assert", "EXECUTION_ASSERTION")):
                if key in item and sla_type is not None and sla_type != owner:
                    self.ctx.error(
                        key_line(item, key, line), f"{path}.{key}", f"only a {owner} SLA has '{key}'"
                    )
            if sla_id is None or sla_type is None or behavior is None:
                continue
            if (sla_type == "MAX_DURATION" and duration is None) or (
                sla_type == "EXECUTION_ASSERTION" and assertion is None
            ):
                continue
            result.append(SlaSpec(sla_id, sla_type, behavior, labels, duration, assertion, line))
        return result

    def checks(self, doc: dict) -> list[CheckSpec]:
        result: list[CheckSpec] = []
        for index, item, line in self._items(doc, "checks"):
            path = f"checks[{index}]"
            self._unknown_keys(item, CHECK_KEYS, path)
            if "condition" in item and "when" in item:
                self.ctx.error(
                    key_line(item, "when", line), f"{path}.when", "give 'when' or 'condition', not both"
                )
                continue
            key = "when" if "when" in item else "condition"
            condition = self._text(item, key, path, line, template=True)
            message = self._text(item, "message", path, line)
            style = self._choice(item, "style", path, line, CHECK_STYLES, default="INFO")
            behavior = self._choice(item, "behavior", path, line, CHECK_BEHAVIORS, default="BLOCK_EXECUTION")
            if condition is None or message is None or style is None or behavior is None:
                continue
            result.append(CheckSpec(condition, message, style, behavior, line))
        return result

    # --- helpers --------------------------------------------------------------------------------------

    def _items(self, doc: dict, key: str) -> list[tuple[int, dict, int]]:
        raw = doc.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, key), key, f"must be a list, got {type_name(raw)}")
            return []
        if len(raw) > MAX_ITEMS:
            self.ctx.error(value_line(doc, key), key, f"must have at most {MAX_ITEMS} items")
            return []
        items = []
        for index, item in enumerate(raw):
            line = item_line(raw, index)
            if not isinstance(item, dict):
                self.ctx.error(line, f"{key}[{index}]", f"must be a mapping, got {type_name(item)}")
                continue
            items.append((index, item, line))
        return items

    def _unknown_keys(self, item: dict, known: frozenset[str], path: str) -> None:
        for key in item:
            if key not in known:
                self.ctx.error(key_line(item, key), f"{path}.{key}", "unknown property")

    def _text(self, item: dict, key: str, path: str, line: int, *, template: bool = False) -> str | None:
        value = item.get(key)
        if value is None:
            self.ctx.error(line, f"{path}.{key}", "required property missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.ctx.error(value_line(item, key, line), f"{path}.{key}", "must be a non-empty string")
            return None
        if len(value) > MAX_TEXT:
            self.ctx.error(
                value_line(item, key, line), f"{path}.{key}", f"must be at most {MAX_TEXT} characters"
            )
            return None
        if template:
            try:
                templating.compile_template(value)
            except templating.TemplateError as exc:
                self.ctx.error(value_line(item, key, line), f"{path}.{key}", f"invalid expression: {exc}")
                return None
        return value

    def _choice(
        self,
        item: dict,
        key: str,
        path: str,
        line: int,
        allowed: tuple[str, ...],
        *,
        required: bool = False,
        default: str | None = None,
        what: str = "",
    ) -> str | None:
        value = item.get(key)
        if value is None:
            if required:
                self.ctx.error(line, f"{path}.{key}", "required property missing")
            return default
        if not isinstance(value, str) or value not in allowed:
            where = value_line(item, key, line)
            if what and isinstance(value, str):
                self.ctx.error(where, f"{path}.{key}", f"{what} '{value}' is {NOT_SUPPORTED}")
            else:
                self.ctx.error(where, f"{path}.{key}", f"must be one of {', '.join(allowed)}, got {value!r}")
            return None
        return value

    def _duration(self, item: dict, path: str, line: int) -> timedelta | None:
        value = item.get("duration")
        where = value_line(item, "duration", line)
        if value is None:
            self.ctx.error(line, f"{path}.duration", "required property missing")
            return None
        try:
            duration = parse_duration(value)
        except ValueError as exc:
            self.ctx.error(where, f"{path}.duration", str(exc))
            return None
        if duration <= timedelta(0):
            self.ctx.error(where, f"{path}.duration", "must be a positive duration")
            return None
        return duration

    def _assertion(self, item: dict, path: str, line: int) -> str | None:
        return self._text(item, "assert", path, line, template=True)

    def _labels(self, item: dict, path: str, line: int) -> dict[str, str]:
        """Kestra's two spellings (a mapping, or key/value items); no ``system.`` label (Kestra refuses)."""
        raw = item.get("labels")
        if raw is None:
            return {}
        where = value_line(item, "labels", line)
        pairs: list[tuple[Any, Any]]
        if isinstance(raw, dict):
            pairs = list(raw.items())
        elif isinstance(raw, list) and all(isinstance(i, dict) and set(i) <= {"key", "value"} for i in raw):
            pairs = [(i.get("key"), i.get("value")) for i in raw]
        else:
            self.ctx.error(where, f"{path}.labels", "must be a mapping or a list of key/value pairs")
            return {}
        labels: dict[str, str] = {}
        for key, value in pairs:
            if not isinstance(key, str) or not key:
                self.ctx.error(where, f"{path}.labels", "label keys must be non-empty strings")
            elif key.startswith("system."):
                self.ctx.error(where, f"{path}.labels.{key}", "system labels can only be set by the engine")
            elif isinstance(value, (dict, list)):
                self.ctx.error(
                    where, f"{path}.labels.{key}", f"label values must be scalars, got {type_name(value)}"
                )
            else:
                labels[key] = (
                    "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
                )
        return labels
