"""The audit log: append-only and hash-chained, so a silently edited or deleted row is detectable."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from . import verbs
from .chain import GENESIS_HASH, KEYED, PLAIN

__all__ = ["GENESIS_HASH", "AuditChainHead", "AuditEvent", "AuditLogIsAppendOnly"]


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or remove a recorded event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ANN003
        raise AuditLogIsAppendOnly("audit events cannot be updated")

    def delete(self):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")

    update.queryset_only = True
    delete.queryset_only = True


class AuditEvent(models.Model):
    """One thing that happened: who did what to which object, on which cost center, with details.

    ``hash`` links the row to the previous one: HMAC-SHA256 under a key outside the database (``scheme``
    ``hmac-sha256``), or a plain sha256 for rows written before the chain was keyed (``chain``);
    ``verification.verify_chain`` recomputes it.
    Users and cost centers referenced here are protected: deactivate them instead of deleting.
    """

    created = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_repr = models.CharField(max_length=200)
    verb = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    flow_namespace = models.CharField(max_length=200, blank=True)
    flow_id = models.CharField(max_length=200, blank=True)
    cost_center = models.ForeignKey(
        "accounts.CostCenter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)
    scheme = models.CharField(
        max_length=16, default=KEYED, choices=[(PLAIN, "SHA-256 (before keying)"), (KEYED, "HMAC-SHA256")]
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["flow_namespace", "flow_id"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return (
            f"{self.created:%Y-%m-%d %H:%M:%S} {self.actor_repr} {self.verb}"
        ) + f" {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise AuditLogIsAppendOnly("audit events cannot be deleted")

    @property
    def label(self) -> str:
        """The verb as people read it, whichever spelling the row was recorded with (``verbs``)."""
        return verbs.label(self.verb)

    @property
    def flow(self) -> str:
        return f"{self.flow_namespace}.{self.flow_id}" if self.flow_id else ""


class AuditChainHead(models.Model):
    """A single row locked by every writer, so concurrent events extend the chain one at a time."""

    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return self.last_hash
