"""Outputs as people read them (``{% load readable %}``): short values inline, structures collapsed,
Terraform plan summaries as tables, so one large output never makes a page thousands of pixels tall.

Values arrive masked (``selectors.mask_value``); this only decides their shape on the page.
"""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

INLINE_CHARS = 120  # a longer or multi-line text is collapsed behind its first words
MAX_SHOWN_CHARS = 64 * 1024  # what a collapsed block shows at most (a plan JSON can be megabytes)
_PLAN_COUNTS = ("add", "change", "destroy")


def _is_plan_summary(value: Any) -> bool:
    """``portico.terraform.Plan``'s ``summary`` (or Apply's counts): add/change/destroy numbers."""
    return (
        isinstance(value, dict)
        and all(isinstance(value.get(key), int) for key in _PLAN_COUNTS)
        and isinstance(value.get("resources", []), list)
    )


def _size(text: str) -> str:
    size = len(text.encode("utf-8"))
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def _preview(value: dict | list) -> str:
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:4])
        more = "…" if len(value) > 4 else ""
        return f"{len(value)} field{'s' if len(value) != 1 else ''}: {keys}{more}"
    return f"{len(value)} item{'s' if len(value) != 1 else ''}"


def _block(text: str, summary: str) -> dict[str, Any]:
    shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS]
    return {
        "kind": "block",
        "summary": summary,
        "text": shown,
        "truncated": _size(text) if len(text) > MAX_SHOWN_CHARS else "",
    }


MAX_FIELDS = 12  # a mapping with more keys is one collapsed block
MAX_DEPTH = 2  # mappings shown as nested fields this deep at most; deeper ones are blocks


@register.filter
def readable(value: Any) -> dict[str, Any]:
    """How to show ``value``: ``{"kind": "inline" | "block" | "plan" | "fields", ...}`` for
    ``_value.html``. A small mapping is shown field by field (so a plan summary inside a task's
    ``values`` still becomes a table), a large one or a deep one as one collapsed block."""
    return _readable(value, 0)


def _readable(value: Any, depth: int) -> dict[str, Any]:
    if value is None or value == "":
        return {"kind": "inline", "text": "—"}
    if isinstance(value, bool):
        return {"kind": "inline", "text": "yes" if value else "no"}
    if _is_plan_summary(value):
        resources = [r for r in value.get("resources", []) if isinstance(r, dict)]
        return {
            "kind": "plan",
            "counts": [(key, value[key]) for key in _PLAN_COUNTS],
            "resources": [
                {
                    "address": str(r.get("address") or ""),
                    "type": str(r.get("type") or ""),
                    "actions": ", ".join(str(a) for a in r.get("actions") or []),
                }
                for r in resources[:200]
            ],
            "more": max(len(resources) - 200, 0),
        }
    if isinstance(value, dict) and value and len(value) <= MAX_FIELDS and depth < MAX_DEPTH:
        return {"kind": "fields", "items": [(str(k), _readable(v, depth + 1)) for k, v in value.items()]}
    if isinstance(value, dict | list):
        if not value:
            return {"kind": "inline", "text": "{}" if isinstance(value, dict) else "[]"}
        if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            joined = ", ".join(str(v) for v in value)
            if len(joined) <= INLINE_CHARS:
                return {"kind": "inline", "text": joined}
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        return _block(text, _preview(value))
    text = str(value)
    if len(text) <= INLINE_CHARS and "\n" not in text:
        return {"kind": "inline", "text": text}
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _block(text, f"{first[:60]}… ({_size(text)})")
