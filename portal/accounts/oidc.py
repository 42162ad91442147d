"""Roles from a single sign-on: the provider's group claim, mapped to Portico groups by PORTICO_OIDC_ROLE_MAP.

The groups the map names are *managed*: each SSO login sets them to exactly what the claim maps to, so a
group removed at the provider is removed here at the next login. Groups the map never names (given by
hand in the admin) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group

# A hostile or broken token costs little: only this many claim values are read, each this long at most.
MAX_CLAIM_VALUES = 1000
MAX_CLAIM_VALUE_CHARS = 256


def claim_values(claims: Mapping[str, Any], path: str) -> set[str]:
    """The string values at ``path`` (dots reach into objects: Keycloak's ``realm_access.roles``).

    A single string counts as a list of one; anything else (numbers, objects) is no group.
    """
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return {
        item
        for item in items[:MAX_CLAIM_VALUES]
        if isinstance(item, str) and len(item) <= MAX_CLAIM_VALUE_CHARS
    }


def managed_groups(role_map: Mapping[str, Iterable[str]] | None = None) -> set[str]:
    role_map = settings.PORTICO_OIDC_ROLE_MAP if role_map is None else role_map
    return {group for groups in role_map.values() for group in groups}


def mapped_groups(
    claims: Mapping[str, Any], claim: str, role_map: Mapping[str, Iterable[str]] | None = None
) -> set[str]:
    """Portico group names the ``claim`` values of ``claims`` map to."""
    role_map = settings.PORTICO_OIDC_ROLE_MAP if role_map is None else role_map
    return {group for value in claim_values(claims, claim) for group in role_map.get(value, ())}


def login_claims(extra_data: Mapping[str, Any]) -> dict[str, Any]:
    """The verified ID token's claims, completed by the user info endpoint's (same subject, checked)."""
    id_token = extra_data.get("id_token") or {}
    userinfo = extra_data.get("userinfo") or {}
    return {**id_token, **userinfo}


@dataclass(frozen=True)
class GroupChange:
    added: list[str]
    removed: list[str]


def sync_groups(user, wanted: set[str], managed: set[str] | None = None) -> GroupChange:  # noqa: ANN001 - a User
    """Make ``user``'s managed groups exactly ``wanted``; call inside the transaction that audits it."""
    managed = managed_groups() if managed is None else managed
    wanted = wanted & managed
    current = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
    to_add = sorted(wanted - current)
    to_remove = sorted(current - wanted)
    if to_add:
        # A group the map names but nobody created yet is created: the map is the administrator's word.
        user.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in to_add])
    if to_remove:
        user.groups.remove(*Group.objects.filter(name__in=to_remove))
    return GroupChange(added=to_add, removed=to_remove)
