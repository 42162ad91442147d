"""Kestra's namespace key-value store tasks: ``io.kestra.plugin.core.kv.Set``, ``Get`` and ``Delete``.

Values live in the ``KeyValue`` table the deprecated ``state.*`` tasks use; KV keys cannot contain a
``/`` (Kestra's key rule), so they never meet the ``states/...`` keys of those tasks. Semantics follow
Kestra's ``InternalKVStore``: a key must start with a letter or digit; ``overwrite: false`` refuses an
existing key; ``ttl`` makes the value expire, and reading an expired value deletes it and fails the task
("The requested value has expired"); another namespace is reachable only as ``allowedNamespaces``
(``PORTICO_ALLOWED_NAMESPACES``) allows.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import field_validator

from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import Props
from orchestrator.plugins.core.trigger_types import check_namespace_access
from orchestrator.state.models import Execution, KeyValue

KEY = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
KEY_RULE = (
    "Key must start with an alphanumeric character (uppercase or lowercase) and can contain alphanumeric "
    "characters (uppercase or lowercase), dots (.), underscores (_), and hyphens (-) only."
)
KVType = Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]


class KVProps(Props):
    key: str
    namespace: str | None = None  # Kestra's default: the flow's own namespace

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value:
            raise ValueError("Key cannot be null or empty")
        if not KEY.fullmatch(value) and "{{" not in value:  # a template is checked once rendered
            raise ValueError(KEY_RULE)
        return value


class SetProps(KVProps):
    value: Any
    overwrite: bool = True
    ttl: timedelta | None = None
    kvType: KVType | None = None  # noqa: N815 (Kestra's property names)

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class GetProps(KVProps):
    errorOnMissing: bool = False  # noqa: N815


class DeleteProps(KVProps):
    errorOnMissing: bool = False  # noqa: N815


def _namespace(props: KVProps, ctx: RunContext) -> str:
    """The store's namespace: the flow's own unless ``namespace`` names another one it may reach."""
    own = Execution.objects.values_list("namespace", flat=True).get(pk=ctx.execution_id)
    target = props.namespace or own
    check_namespace_access(target, own)
    return target


def _typed(value: Any, kind: KVType | None) -> Any:
    """Kestra converts a string value to ``kvType``; other values are stored as they are."""
    if kind is None or not isinstance(value, str):
        return value
    try:
        if kind == "NUMBER":
            number = json.loads(value)
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(f"'{value}' is not a number")
            return number
        if kind == "BOOLEAN":
            return value.strip().lower() == "true"  # Java's Boolean.parseBoolean
        if kind == "DATETIME":
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()
        if kind == "DATE":
            return date.fromisoformat(value[:10]).isoformat()
        if kind == "DURATION":
            return format_duration(parse_duration(value))
        if kind == "JSON":
            return json.loads(value)
    except (ValueError, TypeError) as exc:
        raise StepError(f"value is not a valid {kind}: {exc}") from None
    return value


def _exists(key: str) -> str:
    return f"Cannot set value for key '{key}'. Key already exists and `overwrite` is set to `false`."


@register("io.kestra.plugin.core.kv.Set", props=SetProps)
def run_kv_set(props: SetProps, ctx: RunContext) -> dict[str, Any]:
    namespace = _namespace(props, ctx)
    value = _typed(props.value, props.kvType)
    expires = timezone.now() + props.ttl if props.ttl else None
    try:
        with transaction.atomic():
            row = KeyValue.objects.select_for_update().filter(namespace=namespace, key=props.key).first()
            live = row is not None and (row.expires is None or row.expires > timezone.now())
            if live and not props.overwrite:
                raise StepError(_exists(props.key))
            if row is None:
                KeyValue.objects.create(namespace=namespace, key=props.key, value=value, expires=expires)
            else:
                KeyValue.objects.filter(pk=row.pk).update(value=value, expires=expires)
    except IntegrityError:  # created by a concurrent Set between our read and our insert
        if not props.overwrite:
            raise StepError(_exists(props.key)) from None
        KeyValue.objects.filter(namespace=namespace, key=props.key).update(value=value, expires=expires)
    return {}


@register("io.kestra.plugin.core.kv.Get", props=GetProps)
def run_kv_get(props: GetProps, ctx: RunContext) -> dict[str, Any]:
    namespace = _namespace(props, ctx)
    row = KeyValue.objects.filter(namespace=namespace, key=props.key).first()
    if row is not None and row.expires is not None and row.expires <= timezone.now():
        KeyValue.objects.filter(pk=row.pk).delete()
        raise StepError("The requested value has expired")
    if row is None and props.errorOnMissing:
        raise StepError(
            f"No value found for key '{props.key}' in namespace '{namespace}' and `errorOnMissing` is set "
            "to true"
        )
    return {"value": row.value if row is not None else None}


@register("io.kestra.plugin.core.kv.Delete", props=DeleteProps)
def run_kv_delete(props: DeleteProps, ctx: RunContext) -> dict[str, Any]:
    namespace = _namespace(props, ctx)
    deleted, _ = KeyValue.objects.filter(namespace=namespace, key=props.key).delete()
    if not deleted and props.errorOnMissing:
        raise StepError(
            f"No value found for key '{props.key}' in namespace '{namespace}' and `errorOnMissing` is set "
            "to true"
        )
    return {"deleted": bool(deleted)}
