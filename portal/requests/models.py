"""Resource requests: what someone asked for, with which inputs, charged where, and how it went."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RequestState(models.TextChoices):
    PENDING_APPROVAL = "PENDING_APPROVAL", "Pending approval"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    RUNNING = "RUNNING", "Running"
    PAUSED = "PAUSED", "Awaiting resume"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"


TERMINAL_STATES = frozenset(
    {RequestState.REJECTED, RequestState.SUCCEEDED, RequestState.FAILED, RequestState.CANCELLED}
)


class ResourceRequest(models.Model):
    """A request snapshots the flow source at submit time: what was approved is what runs.

    ``inputs`` holds non-secret values (shown, audited); ``secret_inputs`` holds SECRET values only until
    the execution ends, then it is cleared.
    """

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="resource_requests"
    )
    catalog_flow = models.ForeignKey("catalog.CatalogFlow", on_delete=models.PROTECT, related_name="requests")
    flow_revision = models.CharField(max_length=64)
    flow_source = models.TextField()
    inputs = models.JSONField(default=dict, blank=True)
    secret_inputs = models.JSONField(default=dict, blank=True)
    cost_center = models.ForeignKey("accounts.CostCenter", on_delete=models.PROTECT, related_name="requests")
    state = models.CharField(
        max_length=20, choices=RequestState.choices, default=RequestState.PENDING_APPROVAL, db_index=True
    )
    execution = models.ForeignKey(
        "orchestrator.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.catalog_flow} ({self.get_state_display()})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES
