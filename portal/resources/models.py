"""What was provisioned, for whom, charged where, at what monthly cost, until when."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class ResourceState(models.TextChoices):
    # Its provider id (or Terraform state) is known, the creating run has not finished yet.
    PROVISIONING = "PROVISIONING", "Being created"
    RUNNING = "RUNNING", "Running"
    OFF = "OFF", "Powered off"
    DESTROYING = "DESTROYING", "Being destroyed"
    # A destroy failed, a creating run failed or was killed after making something, or the drift sweep
    # found it missing (or unknown) at the provider: ``attention`` says which.
    ATTENTION = "ATTENTION", "Needs attention"
    DESTROYED = "DESTROYED", "Destroyed"


LIVE_STATES = (
    ResourceState.PROVISIONING,
    ResourceState.RUNNING,
    ResourceState.OFF,
    ResourceState.DESTROYING,
    ResourceState.ATTENTION,
)


class Resource(models.Model):
    """One provisioned thing, recorded from the outputs of the execution that made it.

    ``actions`` maps a day-2 action (destroy, extend, poweroff, poweron) to the flow id (same namespace
    as the creating flow) that performs it, copied from the creating flow's ``portico.actions.*`` labels.
    """

    kind = models.CharField(max_length=64)  # the creating flow's portico.resource label, e.g. hcloud-server
    provider_id = models.CharField(max_length=128, blank=True)
    # The Terraform state holding it (a creating flow's ``state_key`` output, built from the request id).
    state_key = models.CharField(max_length=90, blank=True)
    name = models.CharField(max_length=200)
    ipv4 = models.GenericIPAddressField(null=True, blank=True, protocol="IPv4")
    ipv6 = models.CharField(max_length=64, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="resources")
    cost_center = models.ForeignKey("accounts.CostCenter", on_delete=models.PROTECT, related_name="resources")
    request = models.OneToOneField(
        "requests.ResourceRequest", on_delete=models.PROTECT, related_name="resource"
    )
    namespace = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)  # server type, location, image...
    actions = models.JSONField(default=dict, blank=True)
    monthly_cost = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    hourly_cost = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    warned_at = models.DateTimeField(null=True, blank=True)  # expiry warning sent (once per expiry date)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=ResourceState.choices, default=ResourceState.RUNNING, db_index=True
    )
    attention = models.TextField(blank=True)  # why it needs attention, in plain words
    checked_at = models.DateTimeField(null=True, blank=True)  # last compared with the provider (sweep)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES


class ResourceAction(models.Model):
    """A day-2 request and the resource it acts on, written by the resource's own service: the link
    never comes from form data (nor from the request's inputs)."""

    request = models.OneToOneField(
        "requests.ResourceRequest", on_delete=models.CASCADE, related_name="resource_action"
    )
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="action_requests")
    action = models.CharField(max_length=16)

    def __str__(self) -> str:
        return f"{self.action} of resource #{self.resource_id} (request #{self.request_id})"


class RequestEstimate(models.Model):
    """What a request will cost and, for Terraform flows, what its plan will change: shown to approvers.

    Kept beside the request (not on it) so the requests app stays unaware of prices and plans.
    """

    class PlanState(models.TextChoices):
        NONE = "NONE", "No plan"
        PENDING = "PENDING", "Planning"
        DONE = "DONE", "Planned"
        FAILED = "FAILED", "Plan failed"

    request = models.OneToOneField(
        "requests.ResourceRequest", on_delete=models.CASCADE, related_name="estimate"
    )
    monthly_cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    hourly_cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    plan_state = models.CharField(max_length=8, choices=PlanState.choices, default=PlanState.NONE)
    plan_summary = models.JSONField(default=dict, blank=True)  # {add, change, destroy, resources[]}
    plan_error = models.TextField(blank=True)
    over_budget = models.BooleanField(default=False)  # needs a second, distinct approver
    first_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"estimate for request #{self.request_id}"
