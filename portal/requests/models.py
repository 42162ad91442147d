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
    # The Git commit the flow came from (``CatalogFlow.commit``); empty for the flows directory.
    flow_commit = models.CharField(max_length=64, blank=True)
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
    # Edit-and-resubmit (``self_service``): the rejected, failed or cancelled request this one retries.
    resubmitted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resubmissions"
    )

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [("can_request", "Can request resources")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.catalog_flow} ({self.get_state_display()})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class RequestExecution(models.Model):
    """Which executions belong to a request: the one its approval started, and replays or new-execution
    retries of those. A foreign key on the portal's side, so nothing a flow does (a ``Labels`` task, say)
    can move an execution to another request, and the orchestrator never knows about requests.
    ``ResourceRequest.execution`` stays the one the request currently follows."""

    request = models.ForeignKey(ResourceRequest, on_delete=models.CASCADE, related_name="execution_links")
    execution = models.OneToOneField(
        "orchestrator.Execution", on_delete=models.CASCADE, related_name="portico_request_link"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"request #{self.request_id} ↔ execution {self.execution_id}"


class RequestComment(models.Model):
    """One message in a request's thread (``comments``): plain text, shown escaped, oldest first."""

    request = models.ForeignKey(ResourceRequest, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"comment #{self.pk} on request #{self.request_id}"
