"""The one writer of the audit log, and its verifier."""

from __future__ import annotations

import json
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from orchestrator.flowmodel import secrets_at_rest

from . import chain
from .keys import audit_key
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

SYSTEM_ACTOR = "system"


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the JSONField gives back; an encrypted
    secret or a known secret value is masked first (the audit log is kept for ever: never a secret)."""
    return json.loads(json.dumps(secrets_at_rest.masked(value), default=str))


canonical_json = chain.canonical_json


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    """The link of ``event`` after ``prev_hash`` under the event's own scheme (keyed for new rows)."""
    return chain.link_hash(event.scheme, prev_hash, event, audit_key())


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
            scheme=chain.KEYED,
        )
        event.hash = compute_hash(head.last_hash, event)
        event.save()
        head.last_hash = event.hash
        head.save(update_fields=["last_hash"])
    return event


def start_keyed_chain(event_model: Any = AuditEvent, head_model: Any = AuditChainHead) -> bool:
    """Append the ``audit.chain_keyed`` marker to a log that has only plain SHA-256 rows (True if it did).

    The marker is the first keyed row: its HMAC covers the last plain hash, so the plain rows before it
    can no longer be rewritten either. The migration passes its historical models; nothing is rewritten.
    """
    last = event_model.objects.order_by("-id").first()
    if last is None or event_model.objects.filter(scheme=chain.KEYED).exists():
        return False
    head, _ = head_model.objects.get_or_create(pk=1, defaults={"last_hash": last.hash})
    marker = event_model(
        created=timezone.now(),
        actor_repr=SYSTEM_ACTOR,
        verb=chain.MARKER_VERB,
        target_type="",
        target_id="",
        flow_namespace="",
        flow_id="",
        details={"plain_rows_up_to_id": last.pk},
        prev_hash=head.last_hash,
        scheme=chain.KEYED,
    )
    marker.hash = chain.keyed_hash(head.last_hash, marker, audit_key())
    marker.save()
    head.last_hash = marker.hash
    head.save(update_fields=["last_hash"])
    return True
