"""People and cost centers."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class CostCenter(models.Model):
    """Where a request's cost is charged; every request names one."""

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

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class User(AbstractUser):
    """Portico user: a Django user with a default cost center for request forms."""

    default_cost_center = models.ForeignKey(
        CostCenter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
