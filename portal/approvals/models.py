"""Decisions on requests (at most one per request, enforced by the database too), the approval
policies that say who decides and how many must agree, each approver's vote, and delegations."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# A Kestra namespace (letters, digits, _ and -, dot-separated), optionally ending in ".*".
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?")
MAX_QUORUM = 20  # more distinct approvers than this is a typo, not a policy


class Outcome(models.TextChoices):
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    AUTO_APPROVED = "AUTO_APPROVED", "Auto-approved"
    # Nobody decided before the policy's deadline: the request is REJECTED with this outcome (policies.py).
    EXPIRED = "EXPIRED", "Expired"


VOTES = [(Outcome.APPROVED.value, "Approved"), (Outcome.REJECTED.value, "Rejected")]


class Decision(models.Model):
    request = models.OneToOneField(
        "requests.ResourceRequest", on_delete=models.PROTECT, related_name="decision"
    )
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    comment = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("can_approve", "Can approve or reject resource requests")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} #{self.request_id}"


class ApprovalPolicy(models.Model):
    """Who approves a flow's requests and how (set in the admin; flow labels ``portico.approval.*`` fill
    in what no admin policy sets, see ``policies.py``). A policy names one flow, or a namespace pattern
    (``company.team`` or ``company.*``); the flow's own policy wins over a namespace's, and among
    namespace patterns the longest match wins."""

    name = models.CharField(max_length=100, unique=True)
    namespace = models.CharField(
        max_length=200,
        blank=True,
        help_text="A namespace, or a prefix ending in '.*' (e.g. company.*) for it and those under it.",
    )
    flow = models.ForeignKey(
        "catalog.CatalogFlow",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="approval_policies",
    )
    approver_groups = models.ManyToManyField(
        "auth.Group", blank=True, related_name="+", help_text="Empty: every approver may decide."
    )
    quorum = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUORUM)],
        help_text="Distinct approvers who must approve (any reject rejects). Empty: the flow's label, or 1.",
    )
    cost_threshold = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="A request estimated above this monthly cost needs a second, distinct approver.",
    )
    require_reject_comment = models.BooleanField(default=False)
    expire_after = models.DurationField(null=True, blank=True, help_text="Undecided this long: it expires.")
    remind_after = models.DurationField(null=True, blank=True, help_text="Undecided this long: remind once.")
    escalate_after = models.DurationField(null=True, blank=True)
    escalate_to = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="After 'escalate after', this group's members may decide too, and are told.",
    )

    class Meta:
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(flow__isnull=False) & models.Q(namespace=""))
                | (models.Q(flow__isnull=True) & ~models.Q(namespace="")),
                name="approval_policy_flow_xor_namespace",
            ),
            models.UniqueConstraint(fields=["flow"], name="approval_policy_one_per_flow"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.namespace and not NAMESPACE_PATTERN.fullmatch(self.namespace):
            errors["namespace"] = "A namespace like company.team, or a prefix like company.*"
        if (self.escalate_after is None) != (self.escalate_to_id is None):
            errors["escalate_to"] = "Set both 'escalate after' and 'escalate to', or neither."
        for name in ("expire_after", "remind_after", "escalate_after"):
            value = getattr(self, name)
            if value is not None and value.total_seconds() <= 0:
                errors[name] = "Must be a positive duration."
        if errors:
            raise ValidationError(errors)


class RequestPolicy(models.Model):
    """The policy a request was submitted under, frozen: what the approvers agreed to is what counts,
    whatever an admin edits later. ``deadline`` / ``remind_at`` / ``escalate_at`` drive the beat sweep."""

    request = models.OneToOneField(
        "requests.ResourceRequest", on_delete=models.CASCADE, related_name="approval_policy"
    )
    source = models.CharField(max_length=300, blank=True)  # which admin policy / labels made it
    # Only members of these groups decide when ``restricted`` (a group the policy named that does not
    # exist adds no one: then only superusers, or the escalation group, can decide).
    restricted = models.BooleanField(default=False)
    approver_groups = models.ManyToManyField("auth.Group", blank=True, related_name="+")
    quorum = models.PositiveSmallIntegerField(default=1)
    second_approval = models.CharField(max_length=200, blank=True)  # why a second approver is needed
    require_reject_comment = models.BooleanField(default=False)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    remind_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalate_to = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"policy of request #{self.request_id}"

    @property
    def required(self) -> int:
        """Distinct approvals needed: the quorum, and at least two when a second approval is due."""
        return max(self.quorum, 2 if self.second_approval else 1)


class Approval(models.Model):
    """One approver's vote on a request. ``on_behalf_of`` is the away approver a delegate stood in for;
    the person counted towards the quorum is ``on_behalf_of`` or else ``approver``, once per request."""

    request = models.ForeignKey(
        "requests.ResourceRequest", on_delete=models.CASCADE, related_name="approvals"
    )
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    counted_for = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=16, choices=VOTES)
    comment = models.TextField(blank=True)
    via = models.CharField(max_length=16, default="web")  # web, email, api
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "counted_for"], name="one_vote_per_person_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.outcome} by {self.approver_id} on #{self.request_id}"


class Delegation(models.Model):
    """While ``approver`` is away (``starts``..``ends``, dates inclusive), ``delegate`` may decide in
    their stead, with their groups; the vote counts as the approver's."""

    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations"
    )
    delegate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stand_ins")
    starts = models.DateField()
    ends = models.DateField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gte=models.F("starts")), name="delegation_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~models.Q(approver=models.F("delegate")), name="delegation_not_to_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegate_id} for {self.approver_id} {self.starts}..{self.ends}"


class EmailLinkUse(models.Model):
    """The nonce of an email approve/reject link, recorded when it is used: each link decides once."""

    nonce = models.CharField(max_length=64, unique=True)
    request = models.ForeignKey("requests.ResourceRequest", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"link {self.nonce[:8]}… used {self.used_at:%Y-%m-%d %H:%M}"
