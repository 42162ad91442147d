"""Roles on namespaces: which namespaces a user holds each capability in, as django-rules predicates.

A user's grants are the ``NamespaceGrant`` rows naming them or one of their groups, plus the historical
global roles read as grants on ``*`` (so installs and tests from before namespaces behave the same):

- the requesters' permission (``roles.REQUEST_PERMISSION``) → requester on ``*``;
- the approvers' permission (``roles.APPROVE_PERMISSION``) → approver and operator on ``*`` (approvers
  always operated executions);
- a superuser → namespace admin on ``*``.

Each role confers capabilities (``CONFERS``): a namespace admin holds all of them; a requester sees the
catalog of its namespaces and requests there, but oversees nothing (they see their own requests only).

The predicates are registered as permissions (``portico.view_namespace``...) by ``register``, called from
``AccountsConfig.ready``; code in other apps calls ``roles`` and ``visibility``, which use them.
Cost-center rules (who may charge what, approvers scoped to cost centers) apply on top, in ``roles``.
"""

from __future__ import annotations

from typing import Any

import rules
from django.db.models import Q

from . import namespace_patterns
from .models import NamespaceGrant, NamespaceRole

CATALOG = "catalog"  # see the namespace's flows in the catalog
OVERSEE = "oversee"  # see everyone's requests, executions, logs, resources and audit entries
REQUEST = "request"
APPROVE = "approve"
OPERATE = "operate"  # kill, resume, restart, replay
ADMINISTER = "administer"

CONFERS: dict[str, frozenset[str]] = {
    NamespaceRole.VIEWER: frozenset({CATALOG, OVERSEE}),
    NamespaceRole.REQUESTER: frozenset({CATALOG, REQUEST}),
    NamespaceRole.APPROVER: frozenset({CATALOG, OVERSEE, APPROVE}),
    NamespaceRole.OPERATOR: frozenset({CATALOG, OVERSEE, OPERATE}),
    NamespaceRole.ADMIN: frozenset({CATALOG, OVERSEE, REQUEST, APPROVE, OPERATE, ADMINISTER}),
}
# The permissions of the historical global groups (``roles``), as roles on every namespace.
LEGACY_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "requests.can_request": (NamespaceRole.REQUESTER,),
    "approvals.can_approve": (NamespaceRole.APPROVER, NamespaceRole.OPERATOR),
}
_CACHE = "_portico_namespace_capabilities"


def _active(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _roles(user: Any) -> list[tuple[str, str]]:
    """(role, pattern) pairs ``user`` holds: grants to them or their groups, and the global roles."""
    if user.is_superuser:
        return [(NamespaceRole.ADMIN, namespace_patterns.EVERYTHING)]
    held = list(
        NamespaceGrant.objects.filter(Q(user=user) | Q(group__in=user.groups.all())).values_list(
            "role", "namespace_pattern"
        )
    )
    for permission, roles in LEGACY_PERMISSIONS.items():
        if user.has_perm(permission):
            held.extend((role, namespace_patterns.EVERYTHING) for role in roles)
    return held


def patterns(user: Any, capability: str) -> frozenset[str]:
    """The namespace patterns in which ``user`` holds ``capability`` (empty for anonymous or inactive users).

    Read once per user object (one request): a grant changed mid-request counts from the next one.
    """
    if not _active(user):
        return frozenset()
    cache: dict[str, frozenset[str]] | None = getattr(user, _CACHE, None)
    if cache is None:
        by_capability: dict[str, set[str]] = {}
        for role, pattern in _roles(user):
            for held in CONFERS.get(role, frozenset()):
                by_capability.setdefault(held, set()).add(pattern)
        cache = {name: frozenset(found) for name, found in by_capability.items()}
        setattr(user, _CACHE, cache)
    return cache.get(capability, frozenset())


def holds_anywhere(user: Any, capability: str) -> bool:
    """Whether ``user`` holds ``capability`` in at least one namespace (e.g. to open the approval queue)."""
    return bool(patterns(user, capability))


def holds_everywhere(user: Any, capability: str) -> bool:
    """Whether ``user`` holds ``capability`` on ``*`` (what a historical global role gives)."""
    return namespace_patterns.EVERYTHING in patterns(user, capability)


def holds_in(user: Any, capability: str, namespace: str | None) -> bool:
    """Whether ``user`` holds ``capability`` in ``namespace``; an unknown namespace (None) needs ``*``."""
    return namespace_patterns.any_matches(patterns(user, capability), namespace)


def namespace_q(user: Any, capability: str, field: str) -> Q:
    """A filter on ``field`` (a namespace column) selecting the namespaces where ``user`` holds it."""
    return namespace_patterns.to_q(patterns(user, capability), field)


@rules.predicate
def can_browse_catalog_in(user: Any, namespace: str | None) -> bool:
    """See the namespace's flows in the catalog: any role there (a requester too)."""
    return holds_in(user, CATALOG, namespace)


@rules.predicate
def can_view_namespace(user: Any, namespace: str | None) -> bool:
    """See everyone's requests, executions, logs, resources and audit entries of the namespace: viewers,
    approvers, operators and namespace admins (a requester sees only their own)."""
    return holds_in(user, OVERSEE, namespace)


@rules.predicate
def can_request_in(user: Any, namespace: str | None) -> bool:
    """Request the namespace's flows (and day-2 actions on its resources). Which cost center may be
    charged is ``roles.may_charge``'s, checked as well."""
    return holds_in(user, REQUEST, namespace)


@rules.predicate
def can_approve_in(user: Any, namespace: str | None) -> bool:
    """Decide requests for the namespace's flows: approvers and namespace admins there.

    Only the namespace half: ``roles.may_decide_on`` adds the approver's cost-center scope, and the
    approvals service forbids deciding one's own request.
    """
    return holds_in(user, APPROVE, namespace)


@rules.predicate
def can_operate_in(user: Any, namespace: str | None) -> bool:
    """Kill, resume, restart and replay the namespace's executions: operators and namespace admins."""
    return holds_in(user, OPERATE, namespace)


@rules.predicate
def is_namespace_admin(user: Any, namespace: str | None) -> bool:
    """Every role in the namespace."""
    return holds_in(user, ADMINISTER, namespace)


PERMISSIONS = {
    "portico.browse_namespace_catalog": can_browse_catalog_in,
    "portico.view_namespace": can_view_namespace,
    "portico.request_in_namespace": can_request_in,
    "portico.approve_in_namespace": can_approve_in,
    "portico.operate_in_namespace": can_operate_in,
    "portico.administer_namespace": is_namespace_admin,
}


def register() -> None:
    """Register the predicates as django-rules permissions: ``user.has_perm("portico.view_namespace",
    "team-a")``. Idempotent (``AccountsConfig.ready`` may run more than once in tests)."""
    for name, predicate in PERMISSIONS.items():
        rules.set_perm(name, predicate)
