"""Who may see what: the one rule for requests, executions, logs, resources and audit entries.

Overseers of a namespace (viewers, approvers, operators, namespace admins: ``accounts.rules``) see every
request, execution and resource of its flows; the historical approvers' group oversees every namespace.
An overseer scoped to cost centers (``CostCenter.approvers``) oversees only what is charged to those.
Everyone else sees what is theirs: the requests they made, the executions those requests started, the
resources made for them. ``is_staff`` grants nothing here: it only opens the Django admin, where model
permissions apply.

Apps filter querysets with ``visible`` and check a loaded object with ``may_see``; both apply the same
rule, so a list never shows a link its detail page would refuse. A detail page answers 404 (never 403)
for what one may not see: its existence is not theirs to know. A check that is not told the namespace
counts only roles held on every namespace (``*``): forgetting it hides, never reveals.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import Http404

from . import namespace_patterns, rules
from .roles import cost_center_scope

M = TypeVar("M", bound=Model)

# Where each model keeps the namespace of its flow, for ``visible``'s default (by ``_meta.label_lower``).
NAMESPACE_FIELDS = {
    "requests.resourcerequest": "catalog_flow__namespace",
    "resources.resource": "namespace",
    "orchestrator.execution": "namespace",
    "audit.auditevent": "flow_namespace",
    "catalog.catalogflow": "namespace",
}


def _authenticated(user: Any) -> bool:
    return bool(user and user.is_authenticated)


def _in_scope(user: Any, cost_center_id: int | None) -> bool:
    scope = cost_center_scope(user)
    return scope is None or (cost_center_id is not None and cost_center_id in scope)


def sees_everything(user: Any) -> bool:
    """Superusers, and unscoped overseers of every namespace: every request, execution and resource."""
    if not _authenticated(user):
        return False
    return user.is_superuser or (
        rules.holds_everywhere(user, rules.OVERSEE) and cost_center_scope(user) is None
    )


def overseen_executions(queryset: QuerySet[M], user: Any) -> QuerySet[M] | None:
    """The executions list (also runs no request started: schedules, webhooks) for those who oversee
    whole namespaces: everything for ``sees_everything``, the namespaces of their oversee grants for an
    unscoped overseer of some; None (refused) for anyone else, e.g. an approver scoped to cost centers,
    as those runs are charged to none."""
    if sees_everything(user):
        return queryset
    if not _authenticated(user) or cost_center_scope(user) is not None:
        return None
    if not rules.holds_anywhere(user, rules.OVERSEE):
        return None
    return queryset.filter(rules.namespace_q(user, rules.OVERSEE, "namespace"))


def oversees(user: Any, cost_center_id: int | None, namespace: str | None = None) -> bool:
    """Whether ``user`` sees others' objects charged to ``cost_center_id`` for flows of ``namespace``."""
    return rules.can_view_namespace(user, namespace) and _in_scope(user, cost_center_id)


def operates(user: Any, cost_center_id: int | None, namespace: str | None = None) -> bool:
    """Whether ``user`` kills, resumes, restarts and replays such executions (operators, approvers'
    group, namespace admins), their cost-center scope applying."""
    return rules.can_operate_in(user, namespace) and _in_scope(user, cost_center_id)


def _oversight_q(user: Any, capability: str, namespace: str | None, cost_center: str | None) -> Q:
    """Others' rows ``user`` oversees: by the namespace column (none known: only a role on ``*``
    counts), then by their cost-center scope."""
    if namespace is None:
        everywhere = rules.holds_everywhere(user, capability)
        condition = namespace_patterns.EVERY_ROW if everywhere else namespace_patterns.NO_ROW
    else:
        condition = rules.namespace_q(user, capability, namespace)
    scope = cost_center_scope(user)
    if scope is not None:
        condition &= Q(**{f"{cost_center}__in": scope}) if cost_center else namespace_patterns.NO_ROW
    return condition


def visible(
    queryset: QuerySet[M],
    user: Any,
    *,
    owner: str,
    cost_center: str = "cost_center",
    namespace: str | None = None,
) -> QuerySet[M]:
    """``queryset`` narrowed to what ``user`` may see; ``owner`` names the field holding the owning user,
    ``cost_center`` the one holding the cost center (for scoped overseers), ``namespace`` the one holding
    the flow's namespace (by default ``NAMESPACE_FIELDS``' for the model)."""
    if sees_everything(user):
        return queryset
    if not _authenticated(user):
        return queryset.none()
    namespace = namespace or NAMESPACE_FIELDS.get(queryset.model._meta.label_lower)
    mine = Q(**{owner: user}) | _oversight_q(user, rules.OVERSEE, namespace, cost_center)
    return queryset.filter(mine)


def may_see(
    user: Any, owner_id: int | None, cost_center_id: int | None = None, namespace: str | None = None
) -> bool:
    """The per-object form of ``visible``, for something already loaded (``owner_id`` None: nobody's)."""
    if oversees(user, cost_center_id, namespace):
        return True
    return owner_id is not None and owner_id == getattr(user, "pk", None)


def get_visible_or_404(
    queryset: QuerySet[M],
    user: Any,
    *,
    owner: str,
    pk: Any,
    what: str,
    cost_center: str = "cost_center",
    namespace: str | None = None,
) -> M:
    """The object ``pk`` of ``queryset`` if ``user`` may see it; 404 ("no such ``what``") otherwise."""
    try:
        return visible(queryset, user, owner=owner, cost_center=cost_center, namespace=namespace).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"no such {what}") from None


def visible_audit_events(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Audit entries ``user`` reads: all of them with the audit model's view permission or as an overseer
    of every namespace; else those of the flows of the namespaces they oversee (an entry about no flow
    belongs to no namespace, so only to the former). Cost-center scopes do not narrow the audit log."""
    if not _authenticated(user):
        return queryset.none()
    if user.has_perm("audit.view_auditevent") or rules.holds_everywhere(user, rules.OVERSEE):
        return queryset
    return queryset.exclude(flow_namespace="").filter(
        rules.namespace_q(user, rules.OVERSEE, "flow_namespace")
    )


def browsable_flows(queryset: QuerySet[M], user: Any, *, namespace: str = "namespace") -> QuerySet[M]:
    """Catalog flows ``user`` sees: those of the namespaces where they hold any role."""
    if not _authenticated(user):
        return queryset.none()
    return queryset.filter(rules.namespace_q(user, rules.CATALOG, namespace))
