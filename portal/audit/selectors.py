"""Reading the audit log: one filter for the page, the exports (CSV, JSON Lines) and tests."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from portal.accounts.models import CostCenter

from . import chain, verbs
from .models import AuditEvent

EXPORT_CHUNK_ROWS = 500  # rows fetched per query chunk
CSV_COLUMNS = (
    "id",
    "created",
    "actor",
    "verb",
    "target_type",
    "target_id",
    "flow",
    "cost_center",
    "details",
    "hash",
)


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


_MAX_ID = 2**63 - 1  # a bigint primary key: no row has a larger id
_NO_ROW = -1


def _parse_id(text: str | None) -> int | None:
    """An id filter's value: None when absent or malformed (ignored); ``_NO_ROW`` for digits beyond any
    id, which match nothing. Compared in SQL they overflow (SQLite), and the CSV export broke mid-stream;
    ``str.isdigit`` alone also accepts '²', which ``int`` refuses."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > len(str(_MAX_ID)) or int(text) > _MAX_ID:
        return _NO_ROW
    return int(text)


def filter_events(params: Mapping[str, str]) -> QuerySet[AuditEvent]:
    """Filter by ``actor`` (user id), ``cost_center`` (id), ``flow`` ("namespace.id"), ``verb``,
    ``since``/``until`` (ISO dates, inclusive); unknown or malformed values are ignored, and an id no
    row can have gives an empty result."""
    qs = AuditEvent.objects.select_related("actor", "cost_center").order_by("-id")
    for param, column in (("actor", "actor_id"), ("cost_center", "cost_center_id")):
        value = _parse_id(params.get(param))
        if value == _NO_ROW:
            return qs.none()
        if value is not None:
            qs = qs.filter(**{column: value})
    if flow := params.get("flow"):
        namespace, _, flow_id = flow.rpartition(".")
        qs = qs.filter(flow_namespace=namespace, flow_id=flow_id)
    if verb := params.get("verb"):
        qs = qs.filter(verb__in=verbs.spellings(verb))  # rows recorded under an older name too
    if since := _parse_date(params.get("since")):
        qs = qs.filter(created__date__gte=since)
    if until := _parse_date(params.get("until")):
        qs = qs.filter(created__date__lte=until)
    return qs


def filter_choices() -> dict[str, Iterable]:
    flows = (
        AuditEvent.objects.exclude(flow_id="")
        .values_list("flow_namespace", "flow_id")
        .distinct()
        .order_by("flow_namespace", "flow_id")
    )
    actor_ids = AuditEvent.objects.exclude(actor=None).values("actor_id").distinct()
    return {
        "actors": get_user_model().objects.filter(pk__in=actor_ids).order_by("username"),
        "cost_centers": CostCenter.objects.order_by("code"),
        "flows": [f"{ns}.{fid}" for ns, fid in flows],
        "verbs": verbs.choices(list(AuditEvent.objects.values_list("verb", flat=True).distinct())),
    }


def _cell(value: object) -> str:
    """Neutralise spreadsheet formulas: inputs are user-typed and the CSV is opened in Excel."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """Yield CSV text in pieces of about ``_PIECE_CHARS`` (for a streaming response or a file)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for e in events.iterator(chunk_size=EXPORT_CHUNK_ROWS):
        row = [
            e.pk,
            e.created.isoformat(),
            e.actor_repr,
            e.verb,
            e.target_type,
            e.target_id,
            e.flow,
            e.cost_center.code if e.cost_center else "",
            json.dumps(e.details, sort_keys=True),
            e.hash,
        ]
        writer.writerow([_cell(v) for v in row])
        if buffer.tell() >= _PIECE_CHARS:
            yield flush()
    yield flush()


_PIECE_CHARS = 64 * 1024  # the exports write pieces of about this size: few writes, bounded memory


def export_jsonl_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """Yield JSON Lines text in pieces: one object per event with everything needed to re-verify its
    link offline (``chain.row_record``), plus the actor's name and the cost center's code."""
    piece: list[str] = []
    size = 0
    for e in events.iterator(chunk_size=EXPORT_CHUNK_ROWS):
        row = chain.row_record(e)
        row.update(actor=e.actor_repr, label=e.label, cost_center=e.cost_center.code if e.cost_center else "")
        line = json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
        piece.append(line)
        size += len(line)
        if size >= _PIECE_CHARS:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)
