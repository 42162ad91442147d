from django.contrib import admin

from orchestrator.flowmodel.masking import MASK

from .models import ResourceRequest


@admin.register(ResourceRequest)
class ResourceRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "catalog_flow", "requester", "cost_center", "state", "created", "decided_at")
    list_filter = ("state", "cost_center", "catalog_flow")
    search_fields = ("requester__username", "catalog_flow__flow_id", "catalog_flow__namespace")
    date_hierarchy = "created"
    # State moves only through the services (approve/reject, execution signals), never by hand;
    # secret_inputs (encrypted, dropped when the request ends) shows only its names, masked.
    readonly_fields = (
        "requester",
        "catalog_flow",
        "flow_revision",
        "flow_source",
        "inputs",
        "masked_secret_inputs",
        "cost_center",
        "state",
        "execution",
        "created",
        "updated",
        "decided_at",
        "finished_at",
    )
    exclude = ("secret_inputs",)

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="secret inputs")
    def masked_secret_inputs(self, obj: ResourceRequest) -> str:
        return ", ".join(f"{name}: {MASK}" for name in sorted(obj.secret_inputs or {})) or "-"
