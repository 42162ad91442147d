"""Each execution's own flow snapshot, parsed once per revision per process; Kestra's integer revisions.

An execution keeps the YAML it started with (``Execution.flow_source``); editing ``flows/`` never
changes a running execution. ``Flow.revision`` is a content hash, so the parse cache can never serve a
stale flow. Kestra numbers revisions 1, 2, 3 ...: ``FlowRevision`` gives each new source of a flow the
next number (``record_revision``), and the number is what templates and triggers show as the revision.
"""

from __future__ import annotations

import threading

from django.db import IntegrityError, transaction
from django.db.models import Max

from orchestrator.flowmodel.spec import Flow, parse_flow
from orchestrator.state.models import Execution, FlowRevision

_flows: dict[str, Flow] = {}
_flows_lock = threading.Lock()
_FLOW_CACHE_SIZE = 256
# (namespace, flow id, source hash) -> revision number: a recorded number never changes.
_numbers: dict[tuple[str, str, str], int] = {}
_NUMBER_CACHE_SIZE = 4096
_RECORD_ATTEMPTS = 5


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


# --- Kestra's revision numbers ---------------------------------------------------------------------


def _cache(key: tuple[str, str, str], number: int) -> int:
    """Remember ``number`` once the transaction that read or wrote it commits (a rolled-back row must
    not stay known: its number would be given to another source)."""

    def remember_number() -> None:
        with _flows_lock:
            if len(_numbers) >= _NUMBER_CACHE_SIZE:
                _numbers.clear()
            _numbers[key] = number

    transaction.on_commit(remember_number)
    return number


def forget_numbers() -> None:
    """Drop the known revision numbers (the table was emptied, as between tests)."""
    with _flows_lock:
        _numbers.clear()


def record_revision(flow: Flow) -> int:
    """The revision number of ``flow``'s source, recording it as the flow's next revision if new.

    A source seen before keeps its number (going back to an earlier file gives the earlier number;
    Kestra would count a new revision there). Two processes recording the same new source at once
    meet on the unique constraints; the loser reads the winner's row.
    """
    key = (flow.namespace, flow.id, flow.revision)
    with _flows_lock:
        known = _numbers.get(key)
    if known is not None:
        return known
    rows = FlowRevision.objects.filter(namespace=flow.namespace, flow_id=flow.id)
    for _ in range(_RECORD_ATTEMPTS):
        found = rows.filter(source_hash=flow.revision).values_list("number", flat=True).first()
        if found is not None:
            return _cache(key, found)
        number = (rows.aggregate(top=Max("number"))["top"] or 0) + 1
        try:
            with transaction.atomic():
                FlowRevision.objects.create(
                    namespace=flow.namespace,
                    flow_id=flow.id,
                    number=number,
                    source=flow.source,
                    source_hash=flow.revision,
                )
        except IntegrityError:
            continue  # another process recorded this source or took this number: look again
        return _cache(key, number)
    raise IntegrityError(f"could not record a revision of {flow.namespace}.{flow.id}")


def revision_number(execution: Execution) -> int:
    """Kestra's ``flowRevision`` of ``execution`` (its source is recorded if it was not yet)."""
    key = (execution.namespace, execution.flow_id, execution.flow_revision)
    with _flows_lock:
        known = _numbers.get(key)
    if known is not None:
        return known
    found = (
        FlowRevision.objects.filter(
            namespace=execution.namespace, flow_id=execution.flow_id, source_hash=execution.flow_revision
        )
        .values_list("number", flat=True)
        .first()
    )
    if found is not None:
        return _cache(key, found)
    return record_revision(flow_for(execution))


class RevisionNotFound(LookupError):
    """No source is recorded as revision ``number`` of the flow (Kestra's message)."""


def flow_at_revision(namespace: str, flow_id: str, number: int) -> Flow:
    """The flow as it was at revision ``number``, or ``RevisionNotFound``."""
    source = (
        FlowRevision.objects.filter(namespace=namespace, flow_id=flow_id, number=number)
        .values_list("source", flat=True)
        .first()
    )
    if source is None:
        raise RevisionNotFound(f"Unable to find flow '{namespace}'.'{flow_id}' with revision '{number}'")
    flow = parse_flow(source, file=f"{namespace}.{flow_id}@{number}")
    remember(flow)
    return flow
