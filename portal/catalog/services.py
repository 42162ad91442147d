"""Keeping the catalog in step with the flows directory and with each Git source's checkout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from orchestrator.flowmodel.spec import Flow, FlowValidationError, load_flow, parse_flow
from orchestrator.scheduler.triggers import sync_triggers
from orchestrator.state.flow_snapshots import record_revision
from portal.audit.flow_revisions import record_flow_revision

from .git_checks import namespace_within
from .models import RESOURCE_ACTION_LABEL, CatalogFlow, GitSource

FLOW_SUFFIXES = {".yml", ".yaml"}

# Checks of a flow's labels that other apps own (approvals: ``portico.approval.*``), registered from
# their ``AppConfig.ready`` so the catalog does not import them: each returns [(label key, why)].
LabelCheck = Callable[[dict[str, Any]], list[tuple[str, str]]]
_label_checks: list[LabelCheck] = []


def register_label_check(check: LabelCheck) -> None:
    if check not in _label_checks:
        _label_checks.append(check)


def _label_errors(labels: dict[str, Any]) -> list[tuple[str, str]]:
    return [problem for check in _label_checks for problem in check(labels)]


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


def _place(git_source: GitSource | None) -> str:
    return "the flows directory" if git_source is None else f"Git source '{git_source}'"


def _key_line(source: str, key: str) -> int:
    return next((n for n, text in enumerate(source.splitlines(), 1) if text.startswith(f"{key}:")), 1)


@transaction.atomic
def sync_flows(
    directory: str | Path | None = None, *, git_source: GitSource | None = None, commit: str = ""
) -> SyncReport:
    """Load every flow file; create or update its catalog row, deactivate rows whose file is gone.

    An invalid file is reported and not loaded; a row last loaded from that file is left as it was, so
    a broken edit does not silently withdraw a flow people are using. Triggers (schedules, webhooks,
    flow triggers) follow the catalog: they are synced from the same flows in the same transaction.

    Each row remembers where it came from (``git_source``, None for the flows directory): a sync sees
    and withdraws only its own rows, a flow another place defines is refused, and a Git source may
    define flows only in its namespace and those under it. ``commit`` is recorded on rows it changes.
    """
    directory = Path(directory if directory is not None else settings.FLOWS_DIR)
    report = SyncReport()
    seen: set[tuple[str, str]] = set()
    loaded: list[Flow] = []
    invalid_files: set[str] = set()
    source_pk = git_source.pk if git_source is not None else None
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
        if git_source is not None and not namespace_within(flow.namespace, git_source.namespace):
            report.errors.append(
                f"{path}:{_key_line(flow.source, 'namespace')}: namespace: flow {name} is outside namespace "
                f"'{git_source.namespace}', the only one {_place(git_source)} may define flows in"
            )
            report.invalid_files.append(relative)
            invalid_files.add(relative)
            continue
        existing = CatalogFlow.objects.filter(namespace=flow.namespace, flow_id=flow.id).first()
        if existing is not None and existing.active and existing.git_source_id != source_pk:
            report.errors.append(
                f"{path}:{_key_line(flow.source, 'id')}: id: flow {name} is already defined by "
                f"{_place(existing.git_source)}"
            )
            report.invalid_files.append(relative)
            continue
        if RESOURCE_ACTION_LABEL in flow.labels and flow.triggers:
            line = next(
                (n for n, text in enumerate(flow.source.splitlines(), 1) if text.startswith("triggers:")), 1
            )
            report.errors.append(
                f"{path}:{line}: triggers: a day-2 flow (label {RESOURCE_ACTION_LABEL}) is started from its "
                "resource's page only, with the resource's identifiers from Portico's records: it cannot "
                "have triggers"
            )
            report.invalid_files.append(relative)
            invalid_files.add(relative)
            continue
        approval_errors = _label_errors(flow.labels)  # e.g. unknown or malformed portico.approval.*
        if approval_errors:
            lines = flow.source.splitlines()
            for label_key, why in approval_errors:
                line = next((n for n, text in enumerate(lines, 1) if label_key in text), 1)
                report.errors.append(f"{path}:{line}: labels.{label_key}: {why}")
            report.invalid_files.append(relative)
            invalid_files.add(relative)
            continue
        seen.add(key)
        loaded.append(flow)
        number = record_revision(flow)  # each new source of a flow is its next Kestra revision, as a save is
        record_flow_revision(flow, number)  # there; audited once per revision, with its diff
        values = {
            "revision": flow.revision,
            "source": flow.source,
            "file": relative,
            "description": flow.description or "",
            "labels": dict(flow.labels),
            "active": not flow.disabled,
            "git_source": git_source,
        }
        if existing is None:
            CatalogFlow.objects.create(namespace=flow.namespace, flow_id=flow.id, commit=commit, **values)
            report.created.append(name)
        elif any(getattr(existing, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(existing, k, v)
            existing.commit = commit  # the commit this source came from; unchanged flows keep theirs
            existing.save()
            report.updated.append(name)
        else:
            report.unchanged.append(name)
    mine = CatalogFlow.objects.filter(git_source=git_source)
    for row in mine.filter(active=True):
        if (row.namespace, row.flow_id) not in seen and row.file not in invalid_files:
            row.active = False
            row.save(update_fields=["active", "updated"])
            report.deactivated.append(str(row))
    # A flow whose file is now invalid keeps its last good revision's triggers, as it keeps its row.
    # The flows other places define keep theirs too: the trigger sync prunes whatever it is not given.
    kept = [
        parse_flow(row.source, file=row.file)
        for row in CatalogFlow.objects.filter(active=True).exclude(
            pk__in=mine.exclude(file__in=invalid_files).values("pk")
        )
    ]
    sync_triggers([*loaded, *kept])
    return report
