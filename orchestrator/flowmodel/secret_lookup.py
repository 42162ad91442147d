"""Where ``secret('NAME')`` finds a value that lives in a store: a registry the state layer fills.

The flow model has no Django models, so it cannot read the store itself. At start-up
(``OrchestratorConfig.ready``) the state layer registers one lookup, ``lookup(namespace, name)`` →
value or None, for exactly one namespace (the database store or Vault, by
``PORTICO_SECRET_BACKEND``). This module owns the one rule of Kestra's namespace inheritance: a
secret of ``company`` is seen by flows of ``company.team`` unless ``company.team`` defines its own,
so the namespace itself is asked first, then each parent up to the root.

Which namespace a render belongs to is set by ``templating.render`` from the Python context it was
given (``flow.namespace``), never read from inside the template: a ``{% set flow = ... %}`` in flow
text must not reach another namespace's secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Lookup = Callable[[str, str], str | None]
MAX_NAME_LENGTH = 255  # the store's column; a longer name cannot be stored, so it is not looked up

_lock = threading.Lock()
_lookups: list[Lookup] = []
_namespace: ContextVar[str | None] = ContextVar("secret_namespace", default=None)


def register(lookup: Lookup) -> None:
    """Ask ``lookup(namespace, name)`` for store secrets (the latest registered first)."""
    with _lock:
        if lookup not in _lookups:
            _lookups.insert(0, lookup)


def unregister(lookup: Lookup) -> None:
    with _lock:
        if lookup in _lookups:
            _lookups.remove(lookup)


def namespace_chain(namespace: str) -> list[str]:
    """``company.team.app`` → ``[company.team.app, company.team, company]``: nearest first."""
    parts = [p for p in namespace.split(".") if p]
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def find(namespace: str | None, name: str) -> str | None:
    """The value of ``name`` for ``namespace``, from its nearest namespace that defines it, or None."""
    if not namespace or not name or len(name) > MAX_NAME_LENGTH:
        return None  # outside a flow (a bare render) only deployment configuration applies
    with _lock:
        lookups = list(_lookups)
    for candidate in namespace_chain(namespace):
        for lookup in lookups:
            value = lookup(candidate, name)
            if value is not None:
                return value
    return None


def current_namespace() -> str | None:
    """The namespace of the flow whose templates are being rendered, if any."""
    return _namespace.get()


@contextmanager
def rendering_for(namespace: str | None) -> Iterator[None]:
    """Renders inside this block resolve ``secret()`` for ``namespace``; an outer namespace is kept
    when ``namespace`` is None (a nested render with a partial context)."""
    if namespace is None:
        yield
        return
    token = _namespace.set(namespace)
    try:
        yield
    finally:
        _namespace.reset(token)
