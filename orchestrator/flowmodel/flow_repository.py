"""Where a flow is found by namespace and id (for ``Subflow`` and flow triggers).

A pluggable chain: registered lookups are asked first (the portal catalog registers a database-backed
one: the orchestrator never imports the portal, so the portal registers itself here); then the flow
files of a directory: ``settings.FLOWS_DIR`` by default (the same directory the catalog syncs from), or
the directory a caller chose with ``use_directory`` (``make compat`` points it at the Kestra corpus).
Files that do not load are skipped: they cannot be executed anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from orchestrator.flowmodel.spec import Flow, FlowValidationError, load_flow

Lookup = Callable[[str, str], Flow | None]

_lock = threading.Lock()
_lookups: list[Lookup] = []
_directory: Path | None = None
_index: dict[tuple[str, str], Path] | None = None


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
    flow = find_flow(namespace, flow_id)
    if flow is None:
        raise FlowNotFound(f"flow '{namespace}.{flow_id}' not found")
    return flow


# --- the flow files ---------------------------------------------------------------------------------


def use_directory(directory: str | Path | None) -> None:
    """Look flows up in ``directory`` from now on (None: back to ``settings.FLOWS_DIR``)."""
    global _directory, _index
    with _lock:
        _directory = Path(directory) if directory is not None else None
        _index = None


def directory() -> Path:
    return _directory if _directory is not None else Path(settings.FLOWS_DIR)


def _build_index(root: Path) -> dict[tuple[str, str], Path]:
    index: dict[tuple[str, str], Path] = {}
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml")) if root.is_dir() else []
    for path in files:
        try:
            flow = load_flow(path)
        except FlowValidationError:
            continue
        index.setdefault((flow.namespace, flow.id), path)
    return index


def find_flow(namespace: str, flow_id: str) -> Flow | None:
    """The file definition of ``namespace.flow_id``, or None when no loadable file declares it."""
    global _index
    with _lock:
        if _index is None:
            _index = _build_index(directory())
        path = _index.get((namespace, flow_id))
    if path is None:
        return None
    try:
        return load_flow(path)
    except (FlowValidationError, OSError):
        return None


def reset() -> None:
    """Forget the index (a file was added or removed)."""
    global _index
    with _lock:
        _index = None
