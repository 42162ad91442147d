"""The catalog: flows people may request, mirrored from the flows directory."""

from __future__ import annotations

from django.db import models

from orchestrator.flowmodel import secrets_at_rest
from orchestrator.flowmodel.spec import Flow, parse_flow

from . import git_checks

# A day-2 flow (destroy, extend, power...): started from its resource's page only, with the resource's
# identifiers filled in from the database; never from the catalog form, a trigger or a webhook.
RESOURCE_ACTION_LABEL = "portico.resource-action"


class CatalogFlow(models.Model):
    """A flow file as last synced; ``source`` is what a new request snapshots and executes."""

    namespace = models.CharField(max_length=200)
    flow_id = models.CharField(max_length=200)
    revision = models.CharField(max_length=64)
    source = models.TextField()
    file = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    # Where the row was loaded from: a Git source, or the flows directory (null). A sync of one place
    # never withdraws a flow another place defines. ``commit``: the Git commit its current source came
    # from (empty for the flows directory); each new request copies it.
    git_source = models.ForeignKey(
        "catalog.GitSource", null=True, blank=True, on_delete=models.PROTECT, related_name="flows"
    )
    commit = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "flow_id"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "flow_id"], name="catalog_flow_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.flow_id}"

    @property
    def title(self) -> str:
        fallback = self.flow_id.replace("-", " ").replace("_", " ").capitalize()
        return self.labels.get("portico.title") or fallback

    @property
    def display_labels(self) -> dict[str, str]:
        """Labels meant for people (the ``portico.*`` ones drive behaviour and are shown separately)."""
        return {k: v for k, v in self.labels.items() if not k.startswith("portico.")}

    @property
    def needs_approval(self) -> bool:
        return str(self.labels.get("portico.approval", "")).lower() != "none"

    def parse(self) -> Flow:

        return parse_flow(self.source, self.file)


class GitSource(models.Model):
    """A Git repository and branch whose flows the catalog mirrors, for one namespace and those under it.

    Synced by a beat job and by a push webhook signed with ``webhook_secret`` (stored sealed, as every
    secret at rest). An inactive source is neither fetched nor synced; its flows stay as last synced.
    """

    name = models.CharField(max_length=100, unique=True)
    namespace = models.CharField(
        max_length=150,
        validators=[git_checks.check_namespace],
        help_text="The namespace this repository may define flows in (and the namespaces under it).",
    )
    repository_url = models.CharField(
        max_length=git_checks.URL_MAX,
        validators=[git_checks.check_repository_url],
        help_text="https://, ssh://, file:// or git@host:path. No password in the URL.",
    )
    branch = models.CharField(max_length=200, default="main", validators=[git_checks.check_branch])
    subdirectory = models.CharField(
        max_length=500,
        blank=True,
        validators=[git_checks.check_subdirectory],
        help_text="Folder of the flow files inside the repository; empty for its root.",
    )
    webhook_secret = models.JSONField(default=dict, blank=True, editable=False)
    active = models.BooleanField(default=True)
    last_commit = models.CharField(max_length=64, blank=True)
    last_synced = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret = secrets_at_rest.seal(secret)

    def revealed_webhook_secret(self) -> str | None:
        """The plaintext secret, or None when none is set (the webhook then refuses every call)."""
        if not secrets_at_rest.is_sealed(self.webhook_secret):
            return None
        value = secrets_at_rest.reveal(self.webhook_secret)
        return str(value) if value else None
