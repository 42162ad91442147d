"""People and cost centers."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.db import models

from . import namespace_patterns


class CostCenter(models.Model):
    """Where a request's cost is charged; every request names one.

    Who may charge it (``roles.may_charge``): its ``members`` and the users of its ``member_groups``,
    plus its owner and the users whose default cost center it is (an administrator chose both).
    ``approvers``, when set, scopes those approvers: an approver listed on any cost center decides only
    requests on the cost centers listing them; an approver listed nowhere decides on every cost center.
    """

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_cost_centers",
    )
    active = models.BooleanField(default=True)
    # Requests that would take the month's spend past this need a second, distinct approver.
    monthly_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="member_cost_centers", help_text="May charge it."
    )
    member_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="cost_centers",
        help_text="Every user of these groups may charge it.",
    )
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="approval_scopes",
        help_text="Approvers scoped to this cost center: they decide only on the cost centers listing them.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class User(AbstractUser):
    """Portico user: a Django user with a default cost center for request forms."""

    default_cost_center = models.ForeignKey(
        CostCenter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class NamespaceRole(models.TextChoices):
    """What a grant allows in its namespaces (``accounts.rules`` says which role confers what)."""

    VIEWER = "viewer", "Viewer: sees the flows, requests, executions, logs, resources and audit"
    REQUESTER = "requester", "Requester: requests the namespace's flows"
    APPROVER = "approver", "Approver: sees and decides the namespace's requests"
    OPERATOR = "operator", "Operator: sees, kills, resumes, restarts and replays executions"
    ADMIN = "admin", "Namespace admin: every role above"


class NamespaceGrant(models.Model):
    """``role`` on the namespaces ``namespace_pattern`` covers, for one user or every user of one group.

    The historical global groups (``roles.REQUESTERS``, ``roles.APPROVERS``) keep working next to these
    rows: they mean their role on ``*``. Cost-center rules still apply on top (``roles.may_charge``, the
    approvers scoped by ``CostCenter.approvers``).
    """

    namespace_pattern = models.CharField(
        max_length=namespace_patterns.MAX_LENGTH,
        validators=[namespace_patterns.check_pattern],
        help_text="A namespace (team-a), a namespace and those under it (team-a.*), or every one (*).",
    )
    role = models.CharField(max_length=16, choices=NamespaceRole.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="namespace_grants",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="namespace_grants"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["namespace_pattern", "role"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, group__isnull=True)
                    | models.Q(user__isnull=True, group__isnull=False)
                ),
                name="namespace_grant_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["namespace_pattern", "role", "user"], name="namespace_grant_unique_user"
            ),
            models.UniqueConstraint(
                fields=["namespace_pattern", "role", "group"], name="namespace_grant_unique_group"
            ),
        ]

    def __str__(self) -> str:
        holder = self.user if self.user_id else f"group {self.group}"
        return f"{holder}: {self.role} on {self.namespace_pattern}"

    def clean(self) -> None:
        if bool(self.user_id) == bool(self.group_id):
            raise ValidationError("A grant names either a user or a group, not both and not neither.")
