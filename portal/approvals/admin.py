from django.contrib import admin

from .models import ApprovalPolicy, Decision, Delegation, RequestPolicy


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ("request", "outcome", "approver", "created")
    list_filter = ("outcome",)
    readonly_fields = ("request", "approver", "outcome", "comment", "created")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """Admins set policies per flow or namespace pattern; see ``policies`` for how they combine."""

    list_display = ("name", "namespace", "flow", "quorum", "cost_threshold", "require_reject_comment")
    search_fields = ("name", "namespace", "flow__namespace", "flow__flow_id")
    filter_horizontal = ("approver_groups",)


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = ("approver", "delegate", "starts", "ends")
    search_fields = ("approver__username", "delegate__username")


@admin.register(RequestPolicy)
class RequestPolicyAdmin(admin.ModelAdmin):
    """The policy each request was submitted under: read-only, it is the record of what was required."""

    list_display = ("request", "source", "quorum", "second_approval", "deadline", "escalated_at")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
