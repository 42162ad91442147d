"""The ``type`` of a task, trigger or condition, resolved against the task-type registry.

Shared by the task, trigger and flow-level (listener conditions) parsers. Each type's properties are
checked with its pydantic model, so the parsers know the *shape* of a flow, not the details of each type.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.parse_values import Checks
from orchestrator.flowmodel.templating import has_template
from orchestrator.flowmodel.unsupported_types import is_known_unsupported
from orchestrator.flowmodel.yamlsource import key_line, plain, value_line

TYPE_NAME = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*")


class TypeChecks(Checks):
    """Resolves type names and validates properties against the registered type's model."""

    def resolve_type(self, item: dict, path: str, *, kind: str) -> task_api.TaskType | None:
        """The registered type of ``item`` if it is a ``kind`` (task, trigger, condition), else None."""
        type_name = item.get("type")
        if type_name is None:
            self.ctx.error(getattr(item, "line", 1), f"{path}.type", "required property missing")
            return None
        line = value_line(item, "type")
        if not isinstance(type_name, str) or not TYPE_NAME.fullmatch(type_name):
            self.ctx.error(line, f"{path}.type", f"invalid type name {type_name!r}")
            return None
        task_type = task_api.lookup(type_name)
        if task_type is None:
            if is_known_unsupported(type_name):
                self.ctx.error(line, f"{path}.type", f"{kind} type '{type_name}' is not supported yet")
            else:
                self.ctx.error(line, f"{path}.type", f"unknown {kind} type '{type_name}'")
            return None
        if task_type.kind != kind:
            self.ctx.error(
                line, f"{path}.type", f"'{type_name}' is a {task_type.kind} type, not a {kind} type"
            )
            return None
        return task_type

    def validate_props(
        self, task_type: task_api.TaskType, props: dict, item: dict, path: str, line: int
    ) -> None:
        """One problem per property; a templated value is rendered at run time and checked then."""
        try:
            task_type.props_model.model_validate(plain(props))
        except ValidationError as exc:
            reported: set[str] = set()
            for err in exc.errors():
                loc = err["loc"]
                if not loc:
                    # A rule across properties (e.g. "give bytes, partitions or rows"): reported on the
                    # task, unless a templated value may still satisfy it once rendered.
                    if not _contains_template(props) and path not in reported:
                        self.ctx.error(line, path, _pydantic_message(err))
                        reported.add(path)
                    continue
                field_name = loc[0]
                field_path = f"{path}.{field_name}"
                if field_path in reported:
                    continue
                if err["type"] == "extra_forbidden":
                    self.ctx.error(key_line(item, field_name, line), field_path, "unknown property")
                elif err["type"] == "missing":
                    self.ctx.error(line, field_path, "required property missing")
                else:
                    value = props.get(field_name)
                    if _contains_template(value):
                        continue  # rendered at run time; checked then
                    self.ctx.error(value_line(item, field_name, line), field_path, _pydantic_message(err))
                reported.add(field_path)


def _contains_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_template(v) for v in value)
    return has_template(value)


def _pydantic_message(err: ErrorDetails) -> str:
    """Pydantic's message in the wording of the rest of the loader (``must be ...``)."""
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return "must be one of: " + expected.replace("'", "").replace(" or ", ", ")
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message.replace("Input should be", "must be")
