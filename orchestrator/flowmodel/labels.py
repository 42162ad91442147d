"""Kestra's two spellings of labels: a mapping, or a list of ``{key, value}`` items."""

from __future__ import annotations

from typing import Any


def label_map(value: Any) -> dict[str, Any]:
    """Labels as one mapping, whichever way the flow wrote them (anything else: none)."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {
            str(item["key"]): item.get("value") for item in value if isinstance(item, dict) and "key" in item
        }
    return {}
