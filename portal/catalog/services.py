"""Keeping the catalog in step with the flows directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from orchestrator.flowmodel.spec import Flow, FlowValidationError, load_flow, parse_flow
from orchestrator.scheduler.triggers import sync_triggers
from orchestrator.state.flow_snapshots import record_revision

from .models import CatalogFlow

FLOW_SUFFIXES = {".yml", ".yaml"}


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one "file:line: path: message" per problem
    invalid_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _flow_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in FLOW_SUFFIXES and p.is_file())


@transaction.atomic
def sync_flows(directory: str | Path | None = None) -> SyncReport:
    """Load every flow file; create or update its catalog row, deactivate rows whose file is gone.

    An invalid file is reported and not loaded; a row last loaded from that file is left as it was, so
    a broken edit does not silently withdraw a flow people are using. Triggers (schedules, webhooks,
    flow triggers) follow the catalog: they are synced from the same flows in the same transaction.
    """
    directory = Path(directory if directory is not None else settings.FLOWS_DIR)
    report = SyncReport()
    seen: set[tuple[str, str]] = set()
    loaded: list[Flow] = []
    invalid_files: set[str] = set()
    for path in _flow_files(directory) if directory.is_dir() else []:
        relative = str(path.relative_to(directory))
        try:
            flow = load_flow(path)
        except FlowValidationError as exc:
            invalid_files.add(relative)
            report.invalid_files.append(relative)
            report.errors.extend(str(error) for error in exc.errors)
            continue
        key = (flow.namespace, flow.id)
        name = f"{flow.namespace}.{flow.id}"
        if key in seen:
            report.errors.append(f"{path}:1: id: flow {name} is already defined by another file")
            report.invalid_files.append(relative)
            continue
        seen.add(key)
        loaded.append(flow)
        record_revision(flow)  # each new source of a flow is its next Kestra revision, as a save is there
        values = {
            "revision": flow.revision,
            "source": flow.source,
            "file": relative,
            "description": flow.description or "",
            "labels": dict(flow.labels),
            "active": not flow.disabled,
        }
        existing = CatalogFlow.objects.filter(namespace=flow.namespace, flow_id=flow.id).first()
        if existing is None:
            CatalogFlow.objects.create(namespace=flow.namespace, flow_id=flow.id, **values)
            report.created.append(name)
        elif any(getattr(existing, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(existing, k, v)
            existing.save()
            report.updated.append(name)
        else:
            report.unchanged.append(name)
    for row in CatalogFlow.objects.filter(active=True):
        if (row.namespace, row.flow_id) not in seen and row.file not in invalid_files:
            row.active = False
            row.save(update_fields=["active", "updated"])
            report.deactivated.append(str(row))
    # A flow whose file is now invalid keeps its last good revision's triggers, as it keeps its row.
    kept = [
        parse_flow(row.source, file=row.file)
        for row in CatalogFlow.objects.filter(active=True, file__in=invalid_files)
    ]
    sync_triggers([*loaded, *kept])
    return report
