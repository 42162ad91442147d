"""``conditions`` of triggers and flow listeners (Kestra's core condition types).

A condition is checked against a ``Subject``: the execution that ended (a Flow trigger, a listener of
the flow's own execution) or nothing (Webhook), plus the template context its ``Expression`` conditions
render with. It lives in the flow model because both the scheduler (triggers) and the executor
(listeners) evaluate conditions, and the parser refuses a listener condition it cannot evaluate.
Unknown or malformed conditions raise ``ConditionError``; a trigger with one never fires (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.flowmodel import templating
from orchestrator.flowmodel.templating import is_truthy

_PREFIXES = ("io.kestra.plugin.core.condition.", "io.kestra.core.models.conditions.types.")


class ConditionError(ValueError):
    """A condition this engine cannot evaluate (unknown type, bad property)."""


@dataclass
class Subject:
    namespace: str | None = None
    flow_id: str | None = None
    state: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _name(condition: Any) -> str:
    if not isinstance(condition, dict) or not isinstance(condition.get("type"), str):
        raise ConditionError("a condition must be a mapping with a 'type'")
    name = condition["type"]
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = name.removesuffix("Condition")
    if name == "Variable":  # the old name of Expression
        name = "Expression"
    if name not in _CHECKS:
        raise ConditionError(f"condition type '{condition['type']}' is not supported")
    return name


def _states(condition: dict, key: str) -> set[str]:
    value = condition.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConditionError(f"'{key}' must be a list of states")
    return {v.upper() for v in value}


def _status(condition: dict, subject: Subject) -> bool:
    included, excluded = _states(condition, "in"), _states(condition, "notIn")
    if subject.state is None:
        return False
    return (not included or subject.state in included) and subject.state not in excluded


def _flow(condition: dict, subject: Subject) -> bool:
    if not condition.get("namespace") or not condition.get("flowId"):
        raise ConditionError("ExecutionFlow needs 'namespace' and 'flowId'")
    return subject.namespace == condition["namespace"] and subject.flow_id == condition["flowId"]


def _namespace(condition: dict, subject: Subject) -> bool:
    expected = condition.get("namespace")
    if not isinstance(expected, str) or not expected:
        raise ConditionError("ExecutionNamespace needs 'namespace'")
    comparison = str(
        condition.get("comparison") or ("PREFIX" if condition.get("prefix") else "EQUALS")
    ).upper()
    if comparison not in ("EQUALS", "PREFIX", "SUFFIX"):
        raise ConditionError(f"ExecutionNamespace comparison '{comparison}' is not supported")
    actual = subject.namespace
    if actual is None:
        return False
    if comparison == "PREFIX":
        return actual == expected or actual.startswith(expected.rstrip(".") + ".")
    if comparison == "SUFFIX":
        return actual.endswith(expected)
    return actual == expected


def _expression(condition: dict, subject: Subject) -> bool:

    expression = condition.get("expression")
    if not isinstance(expression, (str, bool)):
        raise ConditionError("Expression needs 'expression'")
    try:
        return is_truthy(templating.render(expression, subject.context))
    except templating.TemplateError:
        return False


_CHECKS: dict[str, Callable[[dict, Subject], bool]] = {
    "ExecutionStatus": _status,
    "ExecutionFlow": _flow,
    "ExecutionNamespace": _namespace,
    "Expression": _expression,
}


def validate(conditions: Any) -> list[str]:
    """Problems with a trigger's ``conditions`` (empty when every one can be evaluated)."""
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        return ["conditions must be a list"]
    problems = []
    probe = Subject(namespace="", flow_id="", state="SUCCESS")
    for index, condition in enumerate(conditions):
        try:
            name = _name(condition)
            if name != "Expression":
                _CHECKS[name](condition, probe)
            elif not isinstance(condition.get("expression"), (str, bool)):
                raise ConditionError("Expression needs 'expression'")
        except ConditionError as exc:
            problems.append(f"conditions[{index}]: {exc}")
    return problems


def holds(conditions: list[dict] | None, subject: Subject) -> bool:
    """True when every condition holds for ``subject`` (an invalid one never does)."""
    for condition in conditions or []:
        try:
            if not _CHECKS[_name(condition)](condition, subject):
                return False
        except ConditionError:
            return False
    return True
