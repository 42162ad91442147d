"""The catalog's filters: search by title, description, namespace or id; one label (``key=value``)."""

from __future__ import annotations

import django_filters
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from portal.lists.filters import ListFilterSet, SearchFilter

TITLE_LABEL = "portico.title"
LABELS_TTL = 300


def _label_pairs(queryset: QuerySet) -> list[tuple[str, str]]:
    """Every ``key=value`` label shown to people on the flows of ``queryset``, sorted (string values:
    Kestra's labels are strings).

    Reading them means reading every flow's labels, so the result is cached until the catalog changes
    (its size or latest update, one cheap aggregate) or for ``LABELS_TTL`` seconds at most.
    """
    stamp = queryset.order_by().aggregate(count=Count("id"), latest=Max("updated"))
    key = f"portico:catalog-labels:{stamp['count']}:{stamp['latest'] and stamp['latest'].isoformat()}"

    def read() -> list[tuple[str, str]]:
        pairs: set[tuple[str, str]] = set()
        for labels in queryset.order_by().values_list("labels", flat=True).distinct():
            for name, value in (labels or {}).items():
                if not name.startswith("portico.") and isinstance(value, str):
                    pairs.add((name, value))
        return sorted(pairs)

    return cache.get_or_set(key, read, LABELS_TTL)


class CatalogFilter(ListFilterSet):
    q = SearchFilter(
        fields=("flow_id", "namespace", "description"),
        expressions={"title_label": KeyTextTransform(TITLE_LABEL, "labels")},
    )
    label = django_filters.ChoiceFilter(label="Label", method="filter_label")

    def setup(self) -> None:
        self.set_choices("label", [(f"{k}={v}", f"{k}: {v}") for k, v in _label_pairs(self.queryset)])

    def filter_label(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        key, _, wanted = value.partition("=")
        # Cast: on SQLite an exact match on a JSON key would parse ``wanted`` as JSON.
        label_value = Cast(KeyTextTransform(key, "labels"), TextField())
        return queryset.alias(label_value=label_value).filter(label_value=wanted)
