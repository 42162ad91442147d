"""Who may see what: the one rule for requests, executions and resources.

Approvers (and superusers) oversee the portal: they see every request, execution and resource, and
operate executions. An approver scoped to cost centers (``CostCenter.approvers``) oversees only what is
charged to those cost centers. Everyone else sees what is theirs: the requests they made, the
executions those requests started, the resources made for them. ``is_staff`` grants nothing here: it
only opens the Django admin, where model permissions apply.

Apps filter querysets with ``visible`` and check a loaded object with ``may_see``; both apply the same
rule, so a list never shows a link its detail page would refuse. A detail page answers 404 (never 403)
for what one may not see: its existence is not theirs to know.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import Http404

from .roles import approval_scope, is_approver

M = TypeVar("M", bound=Model)


def sees_everything(user: Any) -> bool:
    """Unscoped approvers and superusers: every request, execution and resource is visible to them."""
    if not (user and user.is_authenticated):
        return False
    return user.is_superuser or (is_approver(user) and approval_scope(user) is None)


def oversees(user: Any, cost_center_id: int | None) -> bool:
    """Whether ``user`` oversees what is charged to ``cost_center_id`` (all of it, or their scope)."""
    if not (user and user.is_authenticated and (user.is_superuser or is_approver(user))):
        return False
    scope = approval_scope(user)
    return scope is None or (cost_center_id is not None and cost_center_id in scope)


def visible(queryset: QuerySet[M], user: Any, *, owner: str, cost_center: str = "cost_center") -> QuerySet[M]:
    """``queryset`` narrowed to what ``user`` may see; ``owner`` names the field holding the owning user,
    ``cost_center`` the one holding the cost center (for scoped approvers)."""
    if sees_everything(user):
        return queryset
    if not (user and user.is_authenticated):
        return queryset.none()
    mine = Q(**{owner: user})
    if is_approver(user):
        mine |= Q(**{f"{cost_center}__in": approval_scope(user) or set()})
    return queryset.filter(mine)


def may_see(user: Any, owner_id: int | None, cost_center_id: int | None = None) -> bool:
    """The per-object form of ``visible``, for something already loaded (``owner_id`` None: nobody's)."""
    if oversees(user, cost_center_id):
        return True
    return owner_id is not None and owner_id == getattr(user, "pk", None)


def get_visible_or_404(
    queryset: QuerySet[M], user: Any, *, owner: str, pk: Any, what: str, cost_center: str = "cost_center"
) -> M:
    """The object ``pk`` of ``queryset`` if ``user`` may see it; 404 ("no such ``what``") otherwise."""
    try:
        return visible(queryset, user, owner=owner, cost_center=cost_center).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"no such {what}") from None
