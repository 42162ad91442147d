"""Chat channels: where the portal's events are posted, per namespace, through an Apprise URL.

The URL carries the service's token (a Slack webhook path, a bot token), so it is stored the way every
secret at rest is (``orchestrator.flowmodel.secrets_at_rest``: ``{"$secret": "<Fernet token>"}`` in a
JSON column, which ``manage.py rotate_secrets`` re-encrypts with the others) and is decrypted only to
send. Admin pages, logs and the audit trail show its scheme and a mask, never the URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models

from orchestrator.flowmodel import secrets_at_rest
from orchestrator.flowmodel.masking import MASK


class ChatEvent(models.TextChoices):
    REQUESTED = "requested", "Request submitted"
    DECIDED = "decided", "Request approved or rejected"
    FINISHED = "finished", "Request finished"
    RESOURCE_EXPIRING = "resource_expiring", "Resource about to expire"


class ChatChannel(models.Model):
    name = models.CharField(max_length=100, help_text="What people call it, e.g. “#infra alerts”.")
    namespace = models.CharField(
        max_length=200,
        blank=True,
        help_text="Flows of this namespace and the namespaces below it (portico.infra covers "
        "portico.infra.eu). Empty: every namespace.",
    )
    sealed_url = models.JSONField(default=dict, blank=True)  # {"$secret": token}: see the module doc
    events = models.JSONField(default=list, blank=True)  # ChatEvent values
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.namespace or 'every namespace'})"

    def set_url(self, url: str) -> None:
        self.sealed_url = secrets_at_rest.seal(url)

    def url(self) -> str:
        """The plaintext URL, for sending only (registered for log masking as it is read)."""
        value = secrets_at_rest.reveal(self.sealed_url) if self.sealed_url else ""
        return value if isinstance(value, str) else ""

    @property
    def masked_url(self) -> str:
        """``scheme://******``: enough to tell a Slack channel from a JSON hook, nothing to reuse."""
        if not secrets_at_rest.contains_sealed(self.sealed_url):
            return "-"
        scheme = urlsplit(self.url()).scheme
        return f"{scheme}://{MASK}" if scheme else MASK

    def covers(self, namespace: str) -> bool:
        return not self.namespace or namespace == self.namespace or namespace.startswith(self.namespace + ".")


class Notification(models.Model):
    """An in-app notice (the bell): one row per recipient per event that is also emailed (``in_app``).

    ``text`` is plain words, shown escaped; ``url`` is a path inside Portico (built with ``reverse``),
    never taken from anyone's input.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    verb = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.verb} for {self.recipient_id}: {self.text[:40]}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
