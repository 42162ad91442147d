"""Reading the catalog."""

from __future__ import annotations

from itertools import groupby

from django.shortcuts import get_object_or_404

from .models import CatalogFlow


def catalog_by_namespace() -> list[tuple[str, list[CatalogFlow]]]:
    """Active flows grouped by namespace, both sorted."""
    # Day-2 flows (label portico.resource-action) are started from "My resources", not the catalog.
    flows = (
        CatalogFlow.objects.filter(active=True)
        .exclude(labels__has_key="portico.resource-action")
        .order_by("namespace", "flow_id")
    )
    return [(namespace, list(group)) for namespace, group in groupby(flows, key=lambda f: f.namespace)]


def get_active_flow(namespace: str, flow_id: str) -> CatalogFlow:
    return get_object_or_404(CatalogFlow, namespace=namespace, flow_id=flow_id, active=True)
