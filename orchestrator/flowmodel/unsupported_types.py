"""Kestra core type names that exist but that Portico does not implement yet.

The spec loader consults the registry first; only a name missing there *and* listed here is "not
supported yet" rather than "unknown" (a typo). Registering a type removes it from this list's effect.
"""

from __future__ import annotations

_CORE = {  # io.kestra.plugin.core.<package>.<Name>
    "flow": "ForEachItem Flow Template LoopUntil ChildFlow",
    "execution": "Exit Count PurgeExecutions Assert SetVariables UnsetVariables Counts",
    "log": "PurgeLogs",
    "state": "Purge",
    "kv": "Set Get GetKeys Delete PurgeKV",
    "storage": "LocalFiles Concat Split Size Delete DeduplicateItems FilterItems PurgeCurrentExecutionFiles "
    "Reverse Write",
    "namespace": "UploadFiles DownloadFiles DeleteFiles",
    "http": "Request Download Trigger",
    "templating": "TemplatedTask",
    "metric": "Publish",
    "trigger": "ScheduleOnDates",
    "condition": "ExecutionStatus ExecutionFlow ExecutionNamespace ExpressionCondition DateTimeBetween "
    "DayWeek DayWeekInMonth ExecutionLabels ExecutionOutputs FlowCondition FlowNamespaceCondition "
    "HasRetryAttempt MultipleCondition Not Or PublicHoliday TimeBetween Weekend",
}
_OLD = {  # io.kestra.core.* names Kestra still accepts as aliases
    "io.kestra.core.tasks.flows": "Flow ForEachItem Template",
    "io.kestra.core.tasks.executions": "Counts",
    "io.kestra.core.tasks.storages": "LocalFiles Concat Split Size Delete DeduplicateItems FilterItems",
    "io.kestra.core.models.conditions.types": "ExecutionStatusCondition ExecutionFlowCondition "
    "ExecutionNamespaceCondition VariableCondition MultipleCondition FlowCondition FlowNamespaceCondition",
}
KNOWN_UNSUPPORTED: frozenset[str] = frozenset(
    [f"io.kestra.plugin.core.{pkg}.{name}" for pkg, names in _CORE.items() for name in names.split()]
    + [f"{pkg}.{name}" for pkg, names in _OLD.items() for name in names.split()]
)
_SHORT = frozenset(name.rsplit(".", 1)[-1] for name in KNOWN_UNSUPPORTED)


def is_known_unsupported(type_name: str) -> bool:
    """True for a Kestra type name (full, old or short) we know exists but cannot run yet."""
    return type_name in KNOWN_UNSUPPORTED or type_name in _SHORT
