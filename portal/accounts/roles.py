"""Roles are groups: requesters ask, approvers decide; code checks the permission, never a group name."""

from __future__ import annotations

REQUESTERS = "requesters"
APPROVERS = "approvers"
APPROVE_PERMISSION = "approvals.can_approve"
_APPROVE_APP, _APPROVE_CODENAME = APPROVE_PERMISSION.split(".")


def ensure_roles(apps=None) -> None:  # noqa: ANN001 - Django's migration app registry
    """Create both groups and grant the approve permission to approvers; idempotent.

    Runs from a data migration (with historical models) and from ``portico_demo`` and tests, because a
    database flush drops groups while keeping the schema.
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    # Permissions are normally created after migrations; create this one now so the group can hold it.
    content_type, _ = content_type_model.objects.get_or_create(app_label=_APPROVE_APP, model="decision")
    permission, _ = permission_model.objects.get_or_create(
        content_type=content_type,
        codename=_APPROVE_CODENAME,
        defaults={"name": "Can approve or reject resource requests"},
    )
    group_model.objects.get_or_create(name=REQUESTERS)
    approvers, _ = group_model.objects.get_or_create(name=APPROVERS)
    approvers.permissions.add(permission)


def is_approver(user) -> bool:  # noqa: ANN001 - any auth user
    return bool(user and user.is_authenticated and user.has_perm(APPROVE_PERMISSION))


def can_view_audit(user) -> bool:  # noqa: ANN001 - any auth user
    """Approvers and administrators read the audit log."""
    if not (user and user.is_authenticated):
        return False
    return is_approver(user) or user.has_perm("audit.view_auditevent")
