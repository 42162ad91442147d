"""Small template helpers for the portal's pages (``{% load portico %}``).

They live in ``approvals`` because the navigation shows the approval queue's size, and ``approvals``
sits above ``requests`` in the apps' import order: from here they read both without a cycle.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone

from portal.accounts.roles import can_view_audit, is_approver

from ..selectors import pending_count

register = template.Library()

STATE_TONES = {
    "PENDING_APPROVAL": "warn",
    "APPROVED": "info",
    "REJECTED": "bad",
    "RUNNING": "info",
    "SUCCEEDED": "ok",
    "FAILED": "bad",
    "CANCELLED": "muted",
    "CREATED": "muted",
    "QUEUED": "muted",
    "PAUSED": "warn",
    "SUCCESS": "ok",
    "WARNING": "warn",
    "KILLED": "muted",
    "KILLING": "warn",
    "RETRYING": "warn",
    "RETRIED": "muted",
    "RESTARTED": "info",
}


@register.simple_tag
def nav_roles(user: Any) -> dict[str, Any]:
    approver = is_approver(user)
    return {
        "approver": approver,
        "audit": can_view_audit(user),
        "pending": pending_count(user) if approver else 0,
    }


@register.filter
def tone(state: Any) -> str:
    return STATE_TONES.get(str(state), "muted")


@register.filter
def pretty(value: Any) -> str:
    """Input values for display: lists joined, JSON compact, None as an em dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


@register.filter
def duration(obj: Any) -> str:
    """A task run's duration: started → ended (or → now while running)."""
    started, ended = getattr(obj, "started", None), getattr(obj, "ended", None)
    if not started:
        return "—"
    seconds = ((ended or timezone.now()) - started).total_seconds()
    if seconds < 1:
        return f"{int(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s"
