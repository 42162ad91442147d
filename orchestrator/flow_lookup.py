"""Find another flow by namespace and id (for ``Subflow`` and flow triggers).

The orchestrator never imports the portal's catalog, so the lookup reads a flows directory itself:
``settings.FLOWS_DIR`` by default (the same directory the catalog syncs from), or the directory a caller
chose with ``use_directory`` (``make compat`` points it at the Kestra corpus). Files that do not load
are skipped: they cannot be executed anyway.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .spec import Flow, FlowValidationError, load_flow

_lock = threading.Lock()
_directory: Path | None = None
_index: dict[tuple[str, str], Path] | None = None


def use_directory(directory: str | Path | None) -> None:
    """Look flows up in ``directory`` from now on (None: back to ``settings.FLOWS_DIR``)."""
    global _directory, _index
    with _lock:
        _directory = Path(directory) if directory is not None else None
        _index = None


def directory() -> Path:
    if _directory is not None:
        return _directory
    from django.conf import settings

    return Path(settings.FLOWS_DIR)


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
    """The current definition of ``namespace.flow_id``, or None when no loadable file declares it."""
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
