"""Read-mostly admin for executions: state changes go through the engine, never through a form.

JSON that may hold secrets (inputs, outputs, trigger, labels) is shown through ``_masked``: encrypted
values as ``******`` and any plaintext SECRET input value masked wherever it appears.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from orchestrator.flowmodel import masking, secrets_at_rest
from orchestrator.scheduler import triggers
from orchestrator.state import flow_snapshots, logs, secret_store
from orchestrator.state.models import Execution, LogLine, NamespaceSecret, TaskRun, Trigger


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


class NamespaceSecretForm(forms.ModelForm):
    """Write-only: the value is typed in and never shown back (not even encrypted); an empty value on an
    existing secret keeps it."""

    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
        strip=False,
        max_length=secret_store.MAX_VALUE_CHARS,
        help_text="Write-only: the stored value is never shown. On an existing secret, leave it empty to "
        "keep the current value.",
    )

    class Meta:
        model = NamespaceSecret
        fields = ("namespace", "name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        adding = self.instance.pk is None
        namespace = data.get("namespace", self.instance.namespace) or ""
        name = data.get("name", self.instance.name) or ""
        value = data.get("value") or None
        if adding and value is None:
            self.add_error("value", "A new secret needs a value.")
            return data
        try:
            secret_store.check(namespace, name, value)
        except secret_store.SecretStoreError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(NamespaceSecret)
class NamespaceSecretAdmin(admin.ModelAdmin):
    """Namespace secrets for ``{{ secret('NAME') }}``: set or replace, never read back. Every change is
    audited by name (``secret_store`` sends ``namespace_secret_changed``; the portal records it)."""

    form = NamespaceSecretForm
    list_display = ("namespace", "name", "masked_value", "updated", "updated_by")
    list_filter = ("namespace",)
    search_fields = ("namespace", "name")
    fields = ("namespace", "name", "value")

    @admin.display(description="value")
    def masked_value(self, obj: NamespaceSecret) -> str:
        return "set (" + masking.MASK + ")"

    def get_readonly_fields(self, request, obj=None) -> tuple[str, ...]:  # noqa: ANN001
        return ("namespace", "name") if obj is not None else ()

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        # With Vault as the backend these rows are not read: values are managed in Vault.
        return secret_store.backend() == "database" and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return secret_store.backend() == "database" and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        value = form.cleaned_data.get("value") or None
        if value is None:
            return  # nothing typed on an existing secret: keep it (and audit nothing)
        saved = secret_store.set_secret(obj.namespace, obj.name, value, user=request.user)
        for field in ("pk", "sealed", "updated", "updated_by"):  # the admin's history links to the row
            setattr(obj, field, getattr(saved, field))

    def delete_model(self, request, obj) -> None:  # noqa: ANN001
        secret_store.delete_secret(obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:  # noqa: ANN001
        for row in queryset:
            secret_store.delete_secret(row, user=request.user)
