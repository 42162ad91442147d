"""Where a flow is found by namespace and id (for ``Subflow``): a pluggable chain of lookups.

Registered lookups are asked first (the portal catalog can register a database-backed one: the
orchestrator never imports the portal, so the portal registers itself here); then the flow files,
through ``flow_lookup`` (``settings.FLOWS_DIR``, or the directory the compat runner points it at).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import flow_lookup
from .spec import Flow

Lookup = Callable[[str, str], Flow | None]

_lock = threading.Lock()
_lookups: list[Lookup] = []


class FlowNotFound(LookupError):
    """No lookup knows the flow ``namespace.flow_id``."""


def register(lookup: Lookup) -> None:
    """Ask ``lookup(namespace, flow_id)`` before the files (the latest registered first)."""
    with _lock:
        if lookup not in _lookups:
            _lookups.insert(0, lookup)


def unregister(lookup: Lookup) -> None:
    with _lock:
        if lookup in _lookups:
            _lookups.remove(lookup)


def find(namespace: str, flow_id: str) -> Flow:
    """The flow, or ``FlowNotFound``."""
    with _lock:
        lookups = list(_lookups)
    for lookup in lookups:
        flow = lookup(namespace, flow_id)
        if flow is not None:
            return flow
    flow = flow_lookup.find_flow(namespace, flow_id)
    if flow is None:
        raise FlowNotFound(f"flow '{namespace}.{flow_id}' not found")
    return flow
