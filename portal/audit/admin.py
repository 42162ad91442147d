"""Read-only admin for the audit log: nobody adds, changes or deletes events here."""

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created", "actor_repr", "verb", "target_type", "target_id", "flow", "cost_center")
    list_filter = ("actor", "cost_center", "flow_namespace", "flow_id", "verb", "created")
    search_fields = ("actor_repr", "verb", "target_id", "flow_id")
    date_hierarchy = "created"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = None

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
