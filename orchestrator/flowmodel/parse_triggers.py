"""A flow's ``triggers``: ids, types and the properties of each registered trigger type."""

from __future__ import annotations

from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.parse_tasks import TASK_ID
from orchestrator.flowmodel.parse_types import TypeChecks
from orchestrator.flowmodel.parsed_flow import TriggerSpec
from orchestrator.flowmodel.yamlsource import item_line, plain, type_name, value_line

# Keys every trigger has (Kestra's AbstractTrigger); not part of the type's own properties.
TRIGGER_COMMON_KEYS = frozenset(
    "description conditions disabled stopAfter logLevel logToFile workerGroup minLogLevel failOnTriggerError "
    "allowConcurrent version pluginDefaultsRef interval".split()
)
# Of those, the ones whose behaviour Portico lacks: refused at load, never kept and ignored.
REFUSED_TRIGGER_KEYS = frozenset(
    "stopAfter logLevel logToFile workerGroup minLogLevel failOnTriggerError allowConcurrent version "
    "pluginDefaultsRef interval".split()
)


def owned_keys(trigger_type: task_api.TaskType) -> frozenset[str]:
    """The common keys a trigger type declares in its own properties, so it implements them: a polling
    trigger's ``interval`` and ``stopAfter`` (Kestra's ``PollingTriggerInterface``). Any other type
    setting them is still refused."""
    return frozenset(k for k in TRIGGER_COMMON_KEYS if k in trigger_type.props_model.model_fields)


def is_polling(trigger_type: task_api.TaskType) -> bool:
    """A polling trigger is evaluated every ``interval`` by the scheduler (``scheduler/polling.py``)."""
    return trigger_type.kind == "trigger" and "interval" in owned_keys(trigger_type)


class TriggerParser(TypeChecks):
    """Parses the ``triggers`` list of one flow."""

    def triggers(self, doc: dict) -> list[TriggerSpec]:
        """The flow's triggers; trigger ids follow the task-id pattern and are unique within the flow."""
        raw = doc.get("triggers")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, "triggers"), "triggers", f"must be a list, got {type_name(raw)}")
            return []
        triggers: list[TriggerSpec] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            path, line = f"triggers[{index}]", item_line(raw, index)
            if not isinstance(item, dict):
                self.ctx.error(line, path, f"must be a mapping, got {type_name(item)}")
                continue
            trigger_id = item.get("id")
            if trigger_id is None:
                self.ctx.error(line, f"{path}.id", "required property missing")
            elif not isinstance(trigger_id, str) or not TASK_ID.fullmatch(trigger_id):
                self.ctx.error(
                    value_line(item, "id"), f"{path}.id", f"'{trigger_id}' must match ^{TASK_ID.pattern}$"
                )
            elif trigger_id in seen:
                self.ctx.error(
                    value_line(item, "id"),
                    f"{path}.id",
                    f"duplicate trigger id '{trigger_id}' (first defined at line {seen[trigger_id]})",
                )
            else:
                seen[trigger_id] = value_line(item, "id")
            trigger_type = self.resolve_type(item, path, kind="trigger")
            owned = owned_keys(trigger_type) if trigger_type is not None else frozenset()
            self.refuse(item, REFUSED_TRIGGER_KEYS - owned, path)
            if trigger_type is None:
                continue
            props = {
                k: v
                for k, v in item.items()
                if k not in ("id", "type") and (k not in TRIGGER_COMMON_KEYS or k in owned)
            }
            self.validate_props(trigger_type, props, item, path, line)
            triggers.append(
                TriggerSpec(
                    id=str(trigger_id), type=trigger_type.name, props=plain(item), line=line, path=path
                )
            )
        return triggers
