"""Input definitions in flow YAML (``inputs:`` and task properties such as ``Pause.onResume``).

This is the static side of inputs: which keys each input type accepts, and whether its default and
bounds are acceptable values of the type (checked with ``input_types.coerce``, the same rule executions
use). Problems go to the ``ParseContext`` of the file; ``spec`` raises them as ``FlowValidationError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.flowmodel import input_options, input_types
from orchestrator.flowmodel.input_options import OPTIONS_KEY
from orchestrator.flowmodel.input_types import VALIDATOR_MESSAGE_KEY
from orchestrator.flowmodel.parse_values import Checks
from orchestrator.flowmodel.templating import has_template
from orchestrator.flowmodel.yamlsource import item_line, key_line, plain, type_name, value_line

INPUT_ID = re.compile(r"[a-zA-Z0-9][.a-zA-Z0-9_-]*")
INPUT_COMMON_KEYS = frozenset(
    "id type name description dependsOn required defaults displayName prefill".split()
)
# Valid Kestra input keys whose behaviour (mostly the UI's) Portico lacks: refused, never ignored.
REFUSED_INPUT_KEYS = frozenset("prefill isRadio autoSelectFirst extension expression".split())
_BOUNDS, _DATE_BOUNDS = {"min", "max"}, {"after", "before", "min", "max"}
_CHOICES = {"values", "options", "expression", "allowCustomValue", "autoSelectFirst", OPTIONS_KEY}
_PATTERN = {"validator", VALIDATOR_MESSAGE_KEY}
INPUT_KEYS_BY_TYPE = {
    "STRING": _PATTERN | {"minLength", "maxLength"},
    "SECRET": _PATTERN,
    "INT": _BOUNDS,
    "FLOAT": _BOUNDS,
    "DURATION": _BOUNDS,
    "DATE": _DATE_BOUNDS,
    "DATETIME": _DATE_BOUNDS,
    "TIME": _DATE_BOUNDS,
    "SELECT": _CHOICES | {"isRadio"},
    "MULTISELECT": _CHOICES | {"itemType"},
    "ARRAY": {"itemType"},  # Kestra's ArrayInput has no validator
    "FILE": {"allowedFileExtensions", "extension"},
}


@dataclass(frozen=True)
class InputSpec:
    """One declared input. ``type`` is canonical (BOOLEAN -> BOOL, ENUM -> SELECT); ``extra`` keeps the
    type-specific keys (allowCustomValue, itemType, after/before, minLength/maxLength...)."""

    id: str
    type: str
    required: bool = True
    defaults: Any = None
    description: str | None = None
    display_name: str | None = None
    validator: str | None = None
    validator_message: str | None = None  # ``portico.validatorMessage``: what people read on a mismatch
    min: Any = None
    max: Any = None
    values: list | None = None
    extra: dict = field(default_factory=dict)
    line: int = 0

    @property
    def label(self) -> str:
        """What people read: ``displayName``, else the id as words (``server_type`` → "Server type")."""
        if self.display_name and self.display_name.strip():
            return self.display_name.strip()
        text = " ".join(self.id.replace("_", " ").replace("-", " ").replace(".", " ").split())
        return f"{text[:1].upper()}{text[1:]}" if text else self.id


class InputParser(Checks):
    """Parses and statically validates lists of input definitions."""

    def inputs(self, raw: Any, doc: dict, key: str = "inputs", base: str = "inputs") -> list[InputSpec]:
        """The definitions in ``raw`` (``doc[key]``), reported under ``base``; invalid ones are left out."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, key), base, f"must be a list, got {type_name(raw)}")
            return []
        specs: list[InputSpec] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            path = f"{base}[{index}]"
            line = item_line(raw, index)
            if not isinstance(item, dict):
                self.ctx.error(line, path, f"must be a mapping, got {type_name(item)}")
                continue
            before = len(self.ctx.errors)
            input_id = item.get("id", item.get("name"))
            if input_id is None:
                self.ctx.error(line, f"{path}.id", "required property missing")
            elif not isinstance(input_id, str) or not INPUT_ID.fullmatch(input_id):
                self.ctx.error(
                    value_line(item, "id"), f"{path}.id", f"'{input_id}' must match ^{INPUT_ID.pattern}$"
                )
            elif input_id in seen:
                self.ctx.error(
                    value_line(item, "id"),
                    f"{path}.id",
                    f"duplicate input id '{input_id}' (first defined at line {seen[input_id]})",
                )
            else:
                seen[input_id] = value_line(item, "id")
            raw_type = item.get("type")
            kind = input_types.canonical_type(raw_type)
            if raw_type is None:
                self.ctx.error(line, f"{path}.type", "required property missing")
            elif kind is None:
                self.ctx.error(
                    value_line(item, "type"),
                    f"{path}.type",
                    f"unknown input type '{raw_type}' (known: "
                    f"{', '.join(sorted(set(input_types.CANONICAL_TYPES)))})",
                )
            allowed = INPUT_COMMON_KEYS | INPUT_KEYS_BY_TYPE.get(kind or "", set())
            if kind is not None:
                for name in item:
                    if name not in allowed:
                        self.ctx.error(
                            key_line(item, name), f"{path}.{name}", f"unknown property for a {raw_type} input"
                        )
            if kind is not None:
                self.refuse(item, REFUSED_INPUT_KEYS & allowed, path)
            if len(self.ctx.errors) > before or kind is None:
                continue
            spec = self._input_spec(item, kind, str(input_id), line, path)
            if spec is not None:
                specs.append(spec)
        return specs

    def _input_spec(self, item: dict, kind: str, input_id: str, line: int, path: str) -> InputSpec | None:
        before = len(self.ctx.errors)
        required = self.boolean(item, "required", f"{path}.required", True)
        for key in ("description", "displayName", "validator", VALIDATOR_MESSAGE_KEY):
            self.optional_string(item, key, f"{path}.{key}")
        validator = item.get("validator")
        if VALIDATOR_MESSAGE_KEY in item and validator is None:
            self.ctx.error(
                key_line(item, VALIDATOR_MESSAGE_KEY),
                f"{path}.{VALIDATOR_MESSAGE_KEY}",
                "explains a 'validator': add one or remove this message",
            )
        if isinstance(validator, str):
            try:
                re.compile(validator)
            except re.error as exc:
                self.ctx.error(value_line(item, "validator"), f"{path}.validator", f"invalid regex: {exc}")
        values = item.get("values", item.get("options"))
        if kind in ("SELECT", "MULTISELECT"):
            if "values" in item and "options" in item:
                self.ctx.error(
                    key_line(item, "options"),
                    f"{path}.options",
                    "use either 'values' or 'options' ('options' is deprecated), not both",
                )
            if values is None and "expression" not in item and OPTIONS_KEY not in item:
                self.ctx.error(line, f"{path}.values", "required property missing")
            if OPTIONS_KEY in item:
                self._options_provider(item, path)
            elif values is not None and (
                not isinstance(values, list)
                or not values
                or any(isinstance(v, (dict, list)) or v is None for v in values)
            ):
                key = "values" if "values" in item else "options"
                self.ctx.error(value_line(item, key), f"{path}.{key}", "must be a non-empty list of strings")
        if kind in ("ARRAY", "MULTISELECT") and "itemType" in item:
            item_type = input_types.canonical_type(item["itemType"])
            if item_type not in input_types.ARRAY_ITEM_TYPES:
                self.ctx.error(
                    value_line(item, "itemType"),
                    f"{path}.itemType",
                    f"'{item['itemType']}' is not a valid item type (use one of: "
                    f"{', '.join(sorted(input_types.ARRAY_ITEM_TYPES))})",
                )
        if kind == "ARRAY" and "itemType" not in item:
            self.ctx.error(line, f"{path}.itemType", "required property missing")
        if len(self.ctx.errors) > before:
            return None
        extra = {
            k: plain(v)
            for k, v in item.items()
            if k not in INPUT_COMMON_KEYS
            and k not in {"validator", VALIDATOR_MESSAGE_KEY, "min", "max", "values", "options"}
        }
        if kind == "ARRAY":
            extra["itemType"] = input_types.canonical_type(item["itemType"])
        spec = InputSpec(
            id=input_id,
            type=kind,
            required=required,
            defaults=plain(item.get("defaults")),
            description=item.get("description"),
            display_name=item.get("displayName"),
            validator=validator,
            validator_message=item.get(VALIDATOR_MESSAGE_KEY),
            min=item.get("min"),
            max=item.get("max"),
            values=[str(v) for v in values] if isinstance(values, list) else None,
            extra=extra,
            line=line,
        )
        # Bounds must themselves be valid values of the type (min: abc on an INT is an authoring mistake).
        for key in ("min", "max", "after", "before"):
            if item.get(key) is not None and kind not in ("STRING", "SECRET"):
                try:
                    input_types.coerce(InputSpec(id=input_id, type=kind), item[key])
                except ValueError as exc:
                    self.ctx.error(value_line(item, key), f"{path}.{key}", str(exc))
        if kind in input_types.NOT_SUPPORTED_YET:
            self.ctx.error(
                value_line(item, "type"), f"{path}.type", f"input type '{kind}' is not supported yet"
            )
            return None
        default = spec.defaults
        if kind == "FILE":
            self._check_file_default(item, path)  # any file URI may be a default, not only stored files
        elif default is not None and not has_template(default):
            # Provider choices come from an API: loading a flow checks the default's type, not membership.
            static = replace(spec, extra={k: v for k, v in spec.extra.items() if k != OPTIONS_KEY})
            try:
                input_types.coerce(static, default)
            except input_types.FormatMismatch as exc:  # the author reads the pattern, not the plain words
                self.ctx.error(value_line(item, "defaults"), f"{path}.defaults", f"must match {exc.pattern}")
            except ValueError as exc:
                self.ctx.error(value_line(item, "defaults"), f"{path}.defaults", str(exc))
        return spec if len(self.ctx.errors) == before else None

    def _options_provider(self, item: dict, path: str) -> None:
        """``portico.options`` must name a registered provider (see ``input_options``)."""
        name = item[OPTIONS_KEY]
        if not isinstance(name, str) or not input_options.known(name):
            known = ", ".join(input_options.names()) or "none"
            self.ctx.error(
                value_line(item, OPTIONS_KEY),
                f"{path}.{OPTIONS_KEY}",
                f"unknown options provider '{name}' (known: {known})",
            )

    def _check_file_default(self, item: dict, path: str) -> None:
        """A FILE default must be a file URI (Kestra's check; reading it is the run's business)."""
        if isinstance(item.get("defaults"), str) and not has_template(item["defaults"]):
            if not re.match(r"^[a-z][a-z0-9+.-]*://", item["defaults"]):
                self.ctx.error(
                    value_line(item, "defaults"),
                    f"{path}.defaults",
                    "must be a file URI like nsfile:///data.csv or kestra:///...",
                )

    def input_dependencies(self, raw: Any, specs: list[InputSpec]) -> None:
        """``dependsOn.inputs`` must name existing inputs and must not form a cycle."""
        if not isinstance(raw, list):
            return
        known = {spec.id for spec in specs}
        graph: dict[str, list[str]] = {}
        lines: dict[str, tuple[int, str]] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "dependsOn" not in item:
                continue
            path = f"inputs[{index}].dependsOn"
            depends = item["dependsOn"]
            names = depends.get("inputs") if isinstance(depends, dict) else None
            if (
                not isinstance(depends, dict)
                or set(depends) - {"inputs", "condition"}
                or not isinstance(names if names is not None else [], list)
            ):
                self.ctx.error(
                    value_line(item, "dependsOn"),
                    path,
                    "must be a mapping with 'inputs' (a list) and an optional 'condition'",
                )
                continue
            graph[item["id"]] = [str(n) for n in names or []]
            lines[item["id"]] = (value_line(item, "dependsOn"), path)
            for name in names or []:
                if name not in known:
                    self.ctx.error(
                        value_line(item, "dependsOn"),
                        f"{path}.inputs",
                        f"depends on a non-existent input '{name}'",
                    )
        reported: set[frozenset[str]] = set()
        for start in graph:
            cycle = _find_cycle(start, graph)
            if cycle and frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                line, path = lines[start]
                self.ctx.error(
                    line, path, f"cyclic dependency between inputs: {' -> '.join([*cycle, cycle[0]])}"
                )


def _find_cycle(start: str, graph: dict[str, list[str]]) -> list[str] | None:
    path: list[str] = []
    visiting: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return path[path.index(node) :]
        visiting.add(node)
        path.append(node)
        for dependency in graph.get(node, []):
            found = visit(dependency)
            if found:
                return found
        path.pop()
        visiting.discard(node)
        return None

    return visit(start)
