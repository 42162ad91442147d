"""The catalog: flows people may request, mirrored from the flows directory."""

from __future__ import annotations

from django.db import models

from orchestrator.flowmodel.spec import Flow, parse_flow


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
