"""Namespace patterns of role grants: ``team-a`` (that namespace), ``team-a.*`` (it and every namespace
under it, as Kestra namespaces nest by their dots), ``*`` (every namespace).

One place for both forms of the rule: ``matches`` for a loaded object, ``to_q`` for a queryset (an exact
match or a ``startswith(prefix + ".")``, both served by an index on the namespace column).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Q

EVERYTHING = "*"
_SUFFIX = ".*"
# Kestra's namespace alphabet (catalog.git_checks), optionally followed by ".*"; or "*" alone.
_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*(\.\*)?|\*")
MAX_LENGTH = 150
# Explicit "every row" and "no row" filters: an empty Q() would vanish when OR-ed with another one.
EVERY_ROW = Q(pk__isnull=False)
NO_ROW = Q(pk__in=[])


def check_pattern(pattern: str) -> str:
    """``pattern`` if it is a namespace, ``namespace.*`` or ``*``; a ValidationError otherwise."""
    if len(pattern or "") > MAX_LENGTH or not _PATTERN.fullmatch(pattern or ""):
        raise ValidationError(
            f"'{pattern}' is not a namespace pattern: a namespace (lowercase letters, digits, '.', '_', "
            "'-'), a namespace followed by '.*', or '*'"
        )
    return pattern


def matches(pattern: str, namespace: str) -> bool:
    """Whether ``pattern`` covers ``namespace``."""
    if pattern == EVERYTHING:
        return True
    if pattern.endswith(_SUFFIX):
        prefix = pattern[: -len(_SUFFIX)]
        return namespace == prefix or namespace.startswith(prefix + ".")
    return namespace == pattern


def any_matches(patterns: Iterable[str], namespace: str | None) -> bool:
    """Whether one of ``patterns`` covers ``namespace``; an unknown namespace (None) only by ``*``."""
    if namespace is None:
        return EVERYTHING in patterns
    return any(matches(pattern, namespace) for pattern in patterns)


def to_q(patterns: Iterable[str], field: str) -> Q:
    """A filter on ``field`` (a namespace column) selecting what ``patterns`` cover; nothing when empty."""
    condition = NO_ROW
    for pattern in sorted(set(patterns)):
        if pattern == EVERYTHING:
            return EVERY_ROW
        if pattern.endswith(_SUFFIX):
            prefix = pattern[: -len(_SUFFIX)]
            condition |= Q(**{field: prefix}) | Q(**{f"{field}__startswith": prefix + "."})
        else:
            condition |= Q(**{field: pattern})
    return condition
