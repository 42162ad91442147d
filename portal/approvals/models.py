"""Decisions on requests: at most one per request, enforced by the database too."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Outcome(models.TextChoices):
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    AUTO_APPROVED = "AUTO_APPROVED", "Auto-approved"


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
