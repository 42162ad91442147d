"""The one writer of the audit log."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from orchestrator.flowmodel import secrets_at_rest

from .models import GENESIS_HASH, AuditChainHead, AuditEvent

SYSTEM_ACTOR = "system"


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the JSONField gives back; an encrypted
    secret or a known secret value is masked first (the audit log is kept for ever: never a secret)."""
    return json.loads(json.dumps(secrets_at_rest.masked(value), default=str))


def canonical_json(event: AuditEvent) -> str:
    payload = {
        "created": event.created.isoformat(),
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "verb": event.verb,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "flow_namespace": event.flow_namespace,
        "flow_id": event.flow_id,
        "cost_center_id": event.cost_center_id,
        "details": event.details,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical_json(event)).encode()).hexdigest()


def _flow_parts(flow: Any) -> tuple[str, str]:
    if flow is None:
        return "", ""
    if isinstance(flow, tuple | list):
        return str(flow[0]), str(flow[1])
    flow_id = getattr(flow, "flow_id", None) or getattr(flow, "id", "")
    return str(getattr(flow, "namespace", "")), str(flow_id)


def _target_parts(target: Any) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    kind, ident = target
    return str(kind), str(ident)


def record(
    verb: str,
    *,
    actor: Any = None,
    target: Any = None,
    cost_center: Any = None,
    flow: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event, extending the hash chain.

    ``target`` is a model instance or a ``(type, id)`` pair; ``flow`` a CatalogFlow, a spec Flow or a
    ``(namespace, id)`` pair; ``actor`` None means the system. Call it inside the transaction that makes
    the change it describes, so the record and the change commit (or vanish) together.
    """
    target_type, target_id = _target_parts(target)
    flow_namespace, flow_id = _flow_parts(flow)
    actor = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        # Every writer locks the single head row: concurrent events queue up instead of forking the chain.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"last_hash": GENESIS_HASH}
        )
        event = AuditEvent(
            created=timezone.now(),
            actor=actor,
            actor_repr=actor.get_username() if actor else SYSTEM_ACTOR,
            verb=verb,
            target_type=target_type,
            target_id=target_id,
            flow_namespace=flow_namespace,
            flow_id=flow_id,
            cost_center=cost_center,
            details=_jsonable(details or {}),
            prev_hash=head.last_hash,
        )
        event.hash = compute_hash(head.last_hash, event)
        event.save()
        head.last_hash = event.hash
        head.save(update_fields=["last_hash"])
    return event


def verify_chain() -> tuple[bool, int | None]:
    """Recompute every hash in order; return (True, None) or (False, id of the first broken event)."""
    prev, last_id = GENESIS_HASH, None
    for event in AuditEvent.objects.order_by("id").iterator():
        if event.prev_hash != prev or compute_hash(prev, event) != event.hash:
            return False, event.pk
        prev, last_id = event.hash, event.pk
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != prev:
        return False, last_id  # events after this one were removed
    return True, None
