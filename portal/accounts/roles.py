"""Roles: requesters ask, approvers decide, in the namespaces granted to them (``accounts.rules``).

The historical global groups (requesters, approvers) still hold their permission and mean their role on
every namespace; code checks a capability, never a group name. Cost-center rules come on top: a
requester charges only their cost centers, an approver listed on cost centers decides only theirs.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from . import rules
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
    """Approver in at least one namespace (the approvers' group: in all); opens the approval queue."""
    return rules.holds_anywhere(user, rules.APPROVE)


def is_requester(user) -> bool:  # noqa: ANN001 - any auth user
    """Requester in at least one namespace (the requesters' group: in all; superusers: everywhere).

    Whether they may request a given flow is ``rules.can_request_in`` on its namespace."""
    return rules.holds_anywhere(user, rules.REQUEST)


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


def cost_center_scope(user) -> set[int] | None:  # noqa: ANN001 - any auth user
    """Cost center ids ``user`` is scoped to (``CostCenter.approvers`` lists them); None when unscoped.

    Narrows all their oversight (seeing others' objects, operating, deciding), whatever their namespaces.
    """
    if not (user and user.is_authenticated) or user.is_superuser:
        return None
    return set(user.approval_scopes.values_list("pk", flat=True)) or None


def may_decide_on(user, cost_center_id: int | None, namespace: str | None = None) -> bool:  # noqa: ANN001
    """Whether ``user``'s approver role covers a request charged to ``cost_center_id`` for a flow of
    ``namespace``: approver there (``rules.can_approve_in``) and, when scoped to cost centers, on one of
    theirs. ``namespace`` None (a caller that does not know it) is covered by an approver on ``*`` only.

    Self-approval is the approvals service's to forbid, not this rule's.
    """
    if not rules.can_approve_in(user, namespace):
        return False
    scope = approval_scope(user)
    return scope is None or (cost_center_id is not None and cost_center_id in scope)


def decidable_q(user, *, cost_center: str = "cost_center", namespace: str = "catalog_flow__namespace") -> Q:  # noqa: ANN001
    """``may_decide_on`` as a filter on requests (``cost_center``/``namespace`` name their fields)."""
    scope = approval_scope(user)
    condition = rules.namespace_q(user, rules.APPROVE, namespace)
    return condition if scope is None else condition & Q(**{f"{cost_center}__in": scope})


def can_view_audit(user) -> bool:  # noqa: ANN001 - any auth user
    """Who opens the audit log: overseers of at least one namespace (they read its entries,
    ``visibility.visible_audit_events``) and holders of the audit model's view permission (all of it)."""
    if not (user and user.is_authenticated):
        return False
    return rules.holds_anywhere(user, rules.OVERSEE) or user.has_perm("audit.view_auditevent")
