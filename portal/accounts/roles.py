"""Roles are groups: requesters ask, approvers decide; code checks the permission, never a group name."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import CostCenter

REQUESTERS = "requesters"
APPROVERS = "approvers"
APPROVE_PERMISSION = "approvals.can_approve"
REQUEST_PERMISSION = "requests.can_request"
_APPROVE_APP, _APPROVE_CODENAME = APPROVE_PERMISSION.split(".")
_REQUEST_APP, _REQUEST_CODENAME = REQUEST_PERMISSION.split(".")


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
    request_type, _ = content_type_model.objects.get_or_create(
        app_label=_REQUEST_APP, model="resourcerequest"
    )
    request_permission, _ = permission_model.objects.get_or_create(
        content_type=request_type,
        codename=_REQUEST_CODENAME,
        defaults={"name": "Can request resources"},
    )
    requesters, _ = group_model.objects.get_or_create(name=REQUESTERS)
    requesters.permissions.add(request_permission)
    approvers, _ = group_model.objects.get_or_create(name=APPROVERS)
    approvers.permissions.add(permission)


def is_approver(user) -> bool:  # noqa: ANN001 - any auth user
    return bool(user and user.is_authenticated and user.has_perm(APPROVE_PERMISSION))


def is_requester(user) -> bool:  # noqa: ANN001 - any auth user
    """Who may ask for resources: the requesters' permission (superusers have every permission)."""
    return bool(user and user.is_authenticated and user.has_perm(REQUEST_PERMISSION))


def chargeable_cost_centers(user) -> QuerySet[CostCenter]:  # noqa: ANN001 - any auth user
    """Active cost centers ``user`` may charge: member (directly or by group), owner, or default.

    Superusers charge any: they administer the cost centers themselves.
    """
    active = CostCenter.objects.filter(active=True)
    if not (user and user.is_authenticated):
        return active.none()
    if user.is_superuser:
        return active
    mine = (
        Q(members=user)
        | Q(member_groups__in=user.groups.all())
        | Q(owner=user)
        | Q(pk=user.default_cost_center_id or 0)
    )
    return active.filter(pk__in=CostCenter.objects.filter(mine).values("pk"))


def may_charge(user, cost_center) -> bool:  # noqa: ANN001 - any auth user, a CostCenter
    return cost_center is not None and chargeable_cost_centers(user).filter(pk=cost_center.pk).exists()


def approval_scope(user) -> set[int] | None:  # noqa: ANN001 - any auth user
    """Cost center ids an approver is scoped to; None when unscoped (decides on every cost center).

    Superusers are never scoped. Not an approver: the empty set (decides nothing).
    """
    if not is_approver(user):
        return set()
    if user.is_superuser:
        return None
    scoped = set(user.approval_scopes.values_list("pk", flat=True))
    return scoped or None


def may_decide_on(user, cost_center_id: int | None) -> bool:  # noqa: ANN001 - any auth user
    """Whether ``user``'s approver role covers requests charged to ``cost_center_id``."""
    scope = approval_scope(user)
    return scope is None or (cost_center_id is not None and cost_center_id in scope)


def can_view_audit(user) -> bool:  # noqa: ANN001 - any auth user
    """Approvers and administrators read the audit log."""
    if not (user and user.is_authenticated):
        return False
    return is_approver(user) or user.has_perm("audit.view_auditevent")
