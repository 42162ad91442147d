from django.contrib import admin

from .models import CatalogFlow


@admin.register(CatalogFlow)
class CatalogFlowAdmin(admin.ModelAdmin):
    list_display = ("namespace", "flow_id", "active", "file", "short_revision", "updated")
    list_filter = ("active", "namespace")
    search_fields = ("namespace", "flow_id", "description")
    readonly_fields = ("namespace", "flow_id", "revision", "source", "file", "labels", "created", "updated")
    fields = (
        "namespace",
        "flow_id",
        "active",
        "description",
        "labels",
        "file",
        "revision",
        "source",
        "created",
        "updated",
    )

    @admin.display(description="revision")
    def short_revision(self, obj: CatalogFlow) -> str:
        return obj.revision[:12]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001 - rows come from sync_flows
        return False
