"""A flow's ``concurrency`` block (Kestra): its parsed form and its load-time validation.

The limit is enforced by ``orchestrator.executor.concurrency``; reading and checking the block is part of
the flow model, so the spec loader can report a bad block with its file and line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.flowmodel.spec import Flow

logger = logging.getLogger(__name__)

QUEUE, CANCEL, FAIL = "QUEUE", "CANCEL", "FAIL"


@dataclass(frozen=True)
class Concurrency:
    limit: int
    behavior: str = QUEUE


def of(flow: Flow) -> Concurrency | None:
    """The flow's ``concurrency`` block, or None (unlimited). An unusable block is ignored with a log
    line; the spec loader reports it at load time."""
    raw = (getattr(flow, "extra", None) or {}).get("concurrency")
    if not isinstance(raw, dict):
        return None
    limit = raw.get("limit")
    behavior = str(raw.get("behavior") or QUEUE).upper()
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or limit < 1
        or behavior not in (QUEUE, CANCEL, FAIL)
    ):
        logger.warning("ignoring invalid concurrency of flow %s.%s: %r", flow.namespace, flow.id, raw)
        return None
    return Concurrency(limit=limit, behavior=behavior)


def problems(raw: Any) -> list[tuple[str, str]]:
    """Validation of a ``concurrency`` block for the spec loader: [(field path, message)]."""
    if not isinstance(raw, dict):
        return [("concurrency", "must be a mapping with limit and behavior")]
    found = []
    for key in raw:
        if key not in ("limit", "behavior"):
            found.append((f"concurrency.{key}", "unknown property"))
    limit = raw.get("limit")
    if limit is None:
        found.append(("concurrency.limit", "required property missing"))
    elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        found.append(("concurrency.limit", "must be an integer ≥ 1"))
    behavior = raw.get("behavior")
    if behavior is not None and behavior not in (QUEUE, CANCEL, FAIL):
        found.append(("concurrency.behavior", "must be QUEUE, CANCEL or FAIL"))
    return found
