"""People and cost centers."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models


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
