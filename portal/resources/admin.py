from django.contrib import admin

from .models import RequestEstimate, Resource


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "state", "ipv4", "owner", "cost_center", "monthly_cost", "expires_at")
    list_filter = ("state", "kind", "cost_center")
    search_fields = ("name", "provider_id", "ipv4", "owner__username")
    readonly_fields = ("request", "created", "updated", "destroyed_at", "warned_at", "details", "actions")
    raw_id_fields = ("owner",)


@admin.register(RequestEstimate)
class RequestEstimateAdmin(admin.ModelAdmin):
    list_display = ("request", "monthly_cost", "plan_state", "over_budget", "first_approver")
    readonly_fields = ("request", "plan_summary", "plan_error", "created")
