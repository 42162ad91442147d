"""Admin for people and cost centers."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import CostCenter, NamespaceGrant, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Portico", {"fields": ("default_cost_center",)}))
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("Portico", {"fields": ("email", "default_cost_center")}))
    list_display = ("username", "email", "first_name", "last_name", "default_cost_center", "is_staff")
    list_filter = (*BaseUserAdmin.list_filter, "default_cost_center")
    autocomplete_fields = ("default_cost_center",)


@admin.register(CostCenter)
class CostCenterAdmin(admin.ModelAdmin):
    """Members (users, groups) may charge a cost center; approvers listed here are scoped to it."""

    list_display = ("code", "name", "owner", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    autocomplete_fields = ("owner",)
    filter_horizontal = ("members", "member_groups", "approvers")


@admin.register(NamespaceGrant)
class NamespaceGrantAdmin(admin.ModelAdmin):
    """Roles on namespaces (``accounts.rules``): ``team-a``, ``team-a.*`` (and below) or ``*``."""

    list_display = ("namespace_pattern", "role", "user", "group", "created")
    list_filter = ("role",)
    search_fields = ("namespace_pattern", "user__username", "group__name")
    autocomplete_fields = ("user", "group")
