"""Each execution's own flow snapshot, parsed once per revision per process.

An execution keeps the YAML it started with (``Execution.flow_source``); editing ``flows/`` never
changes a running execution. Revisions are content hashes, so the cache can never serve a stale flow.
"""

from __future__ import annotations

import threading

from orchestrator.flowmodel.spec import Flow, parse_flow
from orchestrator.state.models import Execution

_flows: dict[str, Flow] = {}
_flows_lock = threading.Lock()
_FLOW_CACHE_SIZE = 256


def flow_for(execution: Execution) -> Flow:
    """The execution's own flow snapshot, parsed once per revision per process."""
    with _flows_lock:
        flow = _flows.get(execution.flow_revision)
    if flow is None:
        flow = parse_flow(execution.flow_source, file=f"{execution.namespace}.{execution.flow_id}")
        remember(flow)
    return flow


def remember(flow: Flow) -> None:
    with _flows_lock:
        if len(_flows) >= _FLOW_CACHE_SIZE:
            _flows.clear()  # revisions are content hashes: re-parsing is always correct, just slower
        _flows[flow.revision] = flow
