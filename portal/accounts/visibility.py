"""Who may see what: the one rule for requests, executions and resources.

Approvers (and superusers) oversee the portal: they see every request, execution and resource, and
operate executions. Everyone else sees what is theirs: the requests they made, the executions those
requests started, the resources made for them. ``is_staff`` grants nothing here: it only opens the
Django admin, where model permissions apply.

Apps filter querysets with ``visible`` and check a loaded object with ``may_see``; both apply the same
rule, so a list never shows a link its detail page would refuse. A detail page answers 404 (never 403)
for what one may not see: its existence is not theirs to know.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

from .roles import is_approver

M = TypeVar("M", bound=Model)


def sees_everything(user: Any) -> bool:
    """Approvers and superusers: every request, execution and resource is visible to them."""
    return bool(user and user.is_authenticated and (user.is_superuser or is_approver(user)))


def visible(queryset: QuerySet[M], user: Any, *, owner: str) -> QuerySet[M]:
    """``queryset`` narrowed to what ``user`` may see; ``owner`` names the field holding the owning user."""
    return queryset if sees_everything(user) else queryset.filter(**{owner: user})


def may_see(user: Any, owner_id: int | None) -> bool:
    """The per-object form of ``visible``, for something already loaded (``owner_id`` None: nobody's)."""
    if sees_everything(user):
        return True
    return owner_id is not None and owner_id == getattr(user, "pk", None)


def get_visible_or_404(queryset: QuerySet[M], user: Any, *, owner: str, pk: Any, what: str) -> M:
    """The object ``pk`` of ``queryset`` if ``user`` may see it; 404 ("no such ``what``") otherwise."""
    try:
        return visible(queryset, user, owner=owner).get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404(f"no such {what}") from None
