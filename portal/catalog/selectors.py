"""Reading the catalog."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.accounts import visibility

from .models import CatalogFlow


def requestable_flows(user: Any = None) -> QuerySet[CatalogFlow]:
    """Active flows one may request from the catalog, by namespace then id; with ``user``, only those of
    the namespaces where they hold a role (``accounts.visibility.browsable_flows``)."""
    # Day-2 flows (label portico.resource-action) are started from "My resources", not the catalog.
    flows = (
        CatalogFlow.objects.filter(active=True)
        .exclude(labels__has_key="portico.resource-action")
        .order_by("namespace", "flow_id")
    )
    return flows if user is None else visibility.browsable_flows(flows, user)


def catalog_by_namespace() -> list[tuple[str, list[CatalogFlow]]]:
    """Active flows grouped by namespace, both sorted."""
    flows = requestable_flows()
    return [(namespace, list(group)) for namespace, group in groupby(flows, key=lambda f: f.namespace)]


def get_active_flow(namespace: str, flow_id: str, user: Any = None) -> CatalogFlow:
    """404 also when ``user`` (if given) holds no role in ``namespace``: not theirs to know."""
    flows = (
        CatalogFlow.objects.all() if user is None else visibility.browsable_flows(CatalogFlow.objects, user)
    )
    return get_object_or_404(flows, namespace=namespace, flow_id=flow_id, active=True)
