"""Personal API tokens: what a script or the ``portico`` CLI presents instead of a session.

Only a SHA-256 digest of the token is stored, with a short visible ``prefix`` to find the row: a copy of
the table cannot be replayed against the API, and the plain token is shown once, at creation. A token
never widens what its user may do; it narrows it to some namespaces and some verbs (``tokens``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)  # visible part, e.g. "pt_3fa9c2d1"
    digest = models.CharField(max_length=64)  # hex SHA-256 of the whole token
    namespaces = models.JSONField(default=list)  # patterns: "*", "team-a", "team-a.*"
    verbs = models.JSONField(default=list)  # subset of tokens.VERBS
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name} ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
