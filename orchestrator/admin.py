"""Read-mostly admin for executions: state changes go through the engine, never through a form.

JSON that may hold secrets (inputs, outputs, trigger, labels) is shown through ``_masked``: encrypted
values as ``******`` and any plaintext SECRET input value masked wherever it appears.
"""

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html

from orchestrator.flowmodel import secrets_at_rest
from orchestrator.scheduler import triggers
from orchestrator.state import flow_snapshots, logs
from orchestrator.state.models import Execution, LogLine, TaskRun, Trigger


def _masked(execution: Execution, value: Any) -> str:
    """``value`` as indented JSON, safe to show: sealed secrets and SECRET input values masked."""
    secrets = logs.secret_values(execution, flow_snapshots.flow_for(execution))
    text = json.dumps(secrets_at_rest.masked(value, secrets), indent=2, sort_keys=True, default=str)
    return format_html("<pre>{}</pre>", text)


class TaskRunInline(admin.TabularInline):
    model = TaskRun
    fields = ("task_id", "value", "state", "attempts", "started", "ended", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "namespace", "flow_id", "state", "created", "started", "ended")
    list_filter = ("state", "namespace", "flow_id")
    search_fields = ("id", "namespace", "flow_id")
    date_hierarchy = "created"
    # The JSON columns are shown masked (``_masked``), never as stored.
    fields = (
        "id",
        "namespace",
        "flow_id",
        "flow_revision",
        "state",
        "masked_labels",
        "masked_trigger",
        "masked_inputs",
        "masked_outputs",
        "history",
        "created",
        "started",
        "ended",
        "flow_source",
    )
    readonly_fields = fields
    inlines = [TaskRunInline]

    @admin.display(description="labels")
    def masked_labels(self, obj: Execution) -> str:
        return _masked(obj, obj.labels)

    @admin.display(description="trigger")
    def masked_trigger(self, obj: Execution) -> str:
        return _masked(obj, obj.trigger)

    @admin.display(description="inputs")
    def masked_inputs(self, obj: Execution) -> str:
        return _masked(obj, obj.inputs)

    @admin.display(description="outputs")
    def masked_outputs(self, obj: Execution) -> str:
        return _masked(obj, obj.outputs)

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ("task_id", "execution", "state", "attempts", "started", "ended")
    list_filter = ("state",)
    search_fields = ("task_id", "execution__id")
    # Only these (``outputs`` through ``masked_outputs``): a view-only page would show every column.
    fields = readonly_fields = (
        "execution",
        "task_id",
        "parent",
        "value",
        "state",
        "history",
        "attempts",
        "masked_outputs",
        "error",
        "created",
        "started",
        "ended",
    )

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="outputs")
    def masked_outputs(self, obj: TaskRun) -> str:
        return _masked(obj.execution, obj.outputs)


@admin.register(LogLine)
class LogLineAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "level", "execution", "taskrun", "message")
    list_filter = ("level",)
    search_fields = ("message", "execution__id")
    readonly_fields = ("execution", "taskrun", "timestamp", "level", "message")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    """Operators switch triggers on and off here; everything else comes from the flows (sync_triggers)."""

    list_display = ("namespace", "flow_id", "trigger_id", "type", "enabled", "last_fired")
    list_filter = ("type", "enabled", "namespace")
    search_fields = ("namespace", "flow_id", "trigger_id")
    fields = (
        "namespace",
        "flow_id",
        "trigger_id",
        "type",
        "enabled",
        "props",
        "flow_revision",
        "last_fired",
        "last_scheduled",
        "last_execution",
        "updated",
    )
    readonly_fields = tuple(f for f in fields if f != "enabled")
    actions = ("enable", "disable")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        triggers.set_enabled(obj, obj.enabled)  # also enables/disables the beat entry

    @admin.action(description="Enable selected triggers", permissions=["change"])
    def enable(self, request, queryset) -> None:  # noqa: ANN001
        for row in queryset:
            triggers.set_enabled(row, True)

    @admin.action(description="Disable selected triggers", permissions=["change"])
    def disable(self, request, queryset) -> None:  # noqa: ANN001
        for row in queryset:
            triggers.set_enabled(row, False)
