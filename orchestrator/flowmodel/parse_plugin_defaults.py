"""A flow's ``pluginDefaults`` (and the older ``taskDefaults``), applied to the document before it is parsed.

Kestra's PluginDefaultService merges the defaults into the flow as a map: every mapping with a ``type``
(tasks, triggers, conditions, at any depth) whose type equals a default's ``type`` or starts with it (a
prefix such as ``io.kestra.plugin.core.log``) takes the default's ``values``. A default fills what the
flow leaves unset; a ``forced`` one overrides what the flow says. When several match, the first listed
wins. Mappings merge key by key and lists concatenate (Kestra's ``MapUtils.merge``). ``taskDefaults`` is
the deprecated name of the same list (Kestra's ``Flow.setTaskDefaults``).

Applying them here, in place on the line-aware document, means the task, trigger and condition parsers
check the merged properties like any others, and a bad default is reported at the line that uses it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.parse_tasks import COMMON_TASK_KEYS
from orchestrator.flowmodel.parse_triggers import TRIGGER_COMMON_KEYS
from orchestrator.flowmodel.parse_values import Checks
from orchestrator.flowmodel.yamlsource import LineSeq, item_line, key_line, plain, type_name, value_line

DEFAULTS_KEYS = ("pluginDefaults", "taskDefaults")
_ENTRY_KEYS = {"type", "values", "forced"}


@dataclass(frozen=True)
class PluginDefault:
    type: str
    values: dict[str, Any]
    forced: bool


class PluginDefaultsParser(Checks):
    """Reads a flow's defaults and merges them into its document."""

    def apply(self, doc: dict) -> None:
        """Merge the flow's defaults into ``doc`` (in place): defaults first, then forced ones."""
        defaults = self.read(doc)
        if not defaults:
            return
        defaults = _with_canonical_names(defaults)
        for forced in (False, True):
            chosen = [d for d in defaults if d.forced is forced]
            if forced:
                chosen.reverse()  # each forced merge overrides the last: reversed, the first listed wins
            for key, value in doc.items():
                if key not in DEFAULTS_KEYS:
                    _apply(value, chosen)

    def read(self, doc: dict) -> list[PluginDefault]:
        """The entries of ``pluginDefaults`` then ``taskDefaults``, each checked like Kestra does."""
        found: list[PluginDefault] = []
        for key in DEFAULTS_KEYS:
            raw = doc.get(key)
            if raw is None:
                continue
            if not isinstance(raw, list):
                self.ctx.error(value_line(doc, key), key, f"must be a list, got {type_name(raw)}")
                continue
            for index, item in enumerate(raw):
                entry = self._entry(item, f"{key}[{index}]", item_line(raw, index))
                if entry is not None:
                    found.append(entry)
        return found

    def _entry(self, item: Any, path: str, line: int) -> PluginDefault | None:
        if not isinstance(item, dict):
            self.ctx.error(line, path, f"must be a mapping with type and values, got {type_name(item)}")
            return None
        for key in item:
            if key not in _ENTRY_KEYS:
                self.ctx.error(key_line(item, key), f"{path}.{key}", "unknown property")
        kind, values = item.get("type"), item.get("values")
        ok = True
        if not isinstance(kind, str) or not kind:
            self.ctx.error(value_line(item, "type", line), f"{path}.type", "required property missing")
            ok = False
        if not isinstance(values, dict):
            message = "required property missing" if values is None else "must be a mapping"
            self.ctx.error(value_line(item, "values", line), f"{path}.values", message)
            ok = False
        forced = self.boolean(item, "forced", f"{path}.forced", False)
        if not ok:
            return None
        known = task_api.lookup(kind)
        if known is not None:
            # Kestra's validateDefault: a default for a known type may only name its properties.
            allowed = set(known.props_model.model_fields) | set(known.branches)
            allowed |= TRIGGER_COMMON_KEYS if known.kind == "trigger" else COMMON_TASK_KEYS
            for key in values:
                if key not in allowed:
                    self.ctx.error(
                        key_line(values, key),
                        f"{path}.values.{key}",
                        f"No property '{key}' exists in plugin '{kind}'",
                    )
        return PluginDefault(type=kind, values=plain(values), forced=forced)


def _with_canonical_names(defaults: list[PluginDefault]) -> list[PluginDefault]:
    """Kestra's addAliases: a default written with an old or short name also applies to the current one."""
    extra = []
    for default in defaults:
        known = task_api.lookup(default.type)
        if known is not None and known.name != default.type:
            extra.append(PluginDefault(type=known.name, values=default.values, forced=default.forced))
    return defaults + extra


def _apply(node: Any, defaults: list[PluginDefault]) -> None:
    """Children first, then the mapping itself, as Kestra's recursiveDefaults walks the flow."""
    if isinstance(node, dict):
        for value in node.values():
            _apply(value, defaults)
        kind = node.get("type")
        if isinstance(kind, str):
            for default in defaults:
                if kind == default.type or kind.startswith(default.type):
                    _merge(node, default.values, override=default.forced)
    elif isinstance(node, list):
        for item in node:
            _apply(item, defaults)


def _merge(target: dict, values: dict[str, Any], *, override: bool) -> None:
    """Kestra's MapUtils.merge into ``target`` (which keeps its source lines): mappings merge key by key,
    lists concatenate (the default's items first unless forced), other values keep the flow's unless
    ``override``. Earlier defaults have already merged, so the first listed wins either way."""
    for key, value in values.items():
        if key not in target or target[key] is None:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _merge(target[key], value, override=override)
        elif isinstance(target[key], list) and isinstance(value, list):
            target[key] = _concat(target[key], copy.deepcopy(value), defaults_first=not override)
        elif override:
            target[key] = copy.deepcopy(value)


def _concat(own: list, added: list, *, defaults_first: bool) -> list:
    lines = list(getattr(own, "item_lines", []))
    fill = [getattr(own, "line", 1)] * len(added)
    result = LineSeq([*added, *own] if defaults_first else [*own, *added])
    result.line = getattr(own, "line", 1)
    result.item_lines = [*fill, *lines] if defaults_first else [*lines, *fill]
    return result
