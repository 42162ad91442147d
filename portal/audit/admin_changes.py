"""Every Django admin add, change and delete, as audit rows.

The admin writes a ``LogEntry`` for each of them, whatever the ModelAdmin: ``receivers`` records one
``admin.added`` / ``admin.changed`` / ``admin.deleted`` row per entry (``record_log_entry``), so a model
registered later is covered without doing anything. Deleting several objects at once goes through
``bulk_create``, which sends no ``post_save``: ``install_bulk_log_hook`` records those entries too.

A ModelAdmin whose changes an auditor reads field by field (approval policies, when they come) adds
``AuditedAdminMixin``: it notes each changed field's old and new value, and the log entry's row carries
them. Fields whose names look secret are recorded as changed, never with their values.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry, LogEntryManager
from django.db import models

from . import context
from .services import record

ADMIN_VERBS = {ADDITION: "admin.added", CHANGE: "admin.changed", DELETION: "admin.deleted"}
MAX_VALUE_CHARS = 500
MAX_MESSAGE_CHARS = 2000
_SECRET_WORDS = ("password", "secret", "token", "key", "credential")


def _value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)[:MAX_VALUE_CHARS]
    if isinstance(value, models.QuerySet | list | tuple | set):
        return [_value(v) for v in list(value)[:100]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_VALUE_CHARS]


def field_changes(form: Any) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for each changed field of a bound admin form."""
    changes: dict[str, Any] = {}
    for name in form.changed_data:
        if any(word in name.lower() for word in _SECRET_WORDS):
            changes[name] = {"changed": True}
            continue
        field = form.fields.get(name)
        initial = form.get_initial_for_field(field, name) if field is not None else form.initial.get(name)
        changes[name] = {"from": _value(initial), "to": _value(form.cleaned_data.get(name))}
    return changes


def record_admin_change(
    actor: Any,
    target: tuple[str, str],
    action: str,
    *,
    object_repr: str = "",
    message: str = "",
    changes: dict[str, Any] | None = None,
) -> None:
    """One admin action on ``target`` (type, id): ``action`` is ``added``, ``changed`` or ``deleted``."""
    details: dict[str, Any] = {"object": object_repr[:200]}
    if message:
        details["message"] = message[:MAX_MESSAGE_CHARS]
    if changes:
        details["fields"] = changes
    record(f"admin.{action}", actor=actor, target=target, details=details)


def record_log_entry(entry: LogEntry) -> None:
    verb = ADMIN_VERBS.get(entry.action_flag)
    if verb is None:
        return
    content_type = entry.content_type
    kind = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    target = (kind, str(entry.object_id or ""))
    try:
        message = entry.get_change_message()
    except (ValueError, TypeError, json.JSONDecodeError):
        message = str(entry.change_message)
    record_admin_change(
        entry.user,
        target,
        verb.split(".", 1)[1],
        object_repr=entry.object_repr or "",
        message=message,
        changes=context.take_changes(target),
    )


def install_bulk_log_hook() -> None:
    """Record the entries ``LogEntryManager.log_actions`` bulk-creates (several deletions at once)."""
    original = LogEntryManager.log_actions
    if getattr(original, "portico_audited", False):
        return

    @functools.wraps(original)
    def log_actions(self: LogEntryManager, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if isinstance(result, list) and len(result) > 1:  # one entry was saved: post_save recorded it
            for entry in result:
                record_log_entry(entry)
        return result

    log_actions.portico_audited = True  # type: ignore[attr-defined]
    LogEntryManager.log_actions = log_actions  # type: ignore[method-assign]


class AuditedAdminMixin:
    """Add to a ModelAdmin: its changes are audited with each changed field's old and new value."""

    def save_model(self, request: Any, obj: models.Model, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        context.note_changes((obj._meta.label_lower, str(obj.pk)), field_changes(form))
