"""Filters of the operators' executions list: state, namespace, flow and creation date."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from orchestrator.state.models import State
from portal.lists.filters import ListFilterSet, SinceFilter, UntilFilter


class ExecutionFilter(ListFilterSet):
    state = django_filters.ChoiceFilter(label="State", choices=State.choices, empty_label="Any")
    namespace = django_filters.ChoiceFilter(label="Namespace", empty_label="Any")
    flow = django_filters.ChoiceFilter(label="Flow", empty_label="Any", method="filter_flow")
    since = SinceFilter("created", label="Created from")
    until = UntilFilter("created", label="Created to")

    def setup(self) -> None:
        # Read off the (namespace, flow_id, created) index: one entry per flow, not per execution.
        pairs = self.queryset.order_by().values_list("namespace", "flow_id").distinct()
        pairs = sorted(pairs)
        self.set_choices("namespace", [(ns, ns) for ns in sorted({ns for ns, _ in pairs})])
        self.set_choices("flow", [(f"{ns}.{flow}", f"{ns}.{flow}") for ns, flow in pairs])

    def filter_flow(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        namespace, _, flow_id = value.rpartition(".")
        return queryset.filter(namespace=namespace, flow_id=flow_id)
