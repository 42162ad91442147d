"""Filters of the resources list. Destroyed resources are history: hidden unless asked for (the
"show destroyed" box, or the Destroyed state itself)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from portal.accounts.models import CostCenter
from portal.lists.filters import IdFilter, ListFilterSet, SearchFilter

from .models import ResourceState


class ShowFilter(django_filters.Filter):
    """A checkbox that widens nothing by itself: ``ResourceFilter.filter_queryset`` reads it."""

    field_class = forms.BooleanField

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        return qs


class ResourceFilter(ListFilterSet):
    q = SearchFilter(fields=("name", "provider_id", "ipv6", "namespace"), by_id=True)
    state = django_filters.ChoiceFilter(label="State", choices=ResourceState.choices, empty_label="Any")
    destroyed = ShowFilter(label="Show destroyed")
    kind = django_filters.ChoiceFilter(label="Kind", empty_label="Any")
    cost_center = IdFilter(field_name="cost_center_id", label="Cost center")
    owner = IdFilter(field_name="owner_id", label="Owner")

    def __init__(self, data: Any, queryset: QuerySet, *, user: Any = None, everyone: bool = False) -> None:
        self.everyone = everyone
        super().__init__(data, queryset, user=user)

    def setup(self) -> None:
        listed = self.queryset.order_by()
        kinds = listed.values_list("kind", flat=True).distinct()
        self.set_choices("kind", [(kind, kind) for kind in sorted(kinds)])
        centers = CostCenter.objects.filter(pk__in=listed.values("cost_center_id")).order_by("code")
        self.set_choices("cost_center", [(c.pk, f"{c.code} · {c.name}") for c in centers])
        if not self.everyone:
            del self.filters["owner"]  # one's own resources: there is no other owner to pick
            return
        owners = get_user_model().objects.filter(pk__in=listed.values("owner_id")).order_by("username")
        self.set_choices("owner", [(u.pk, u.get_username()) for u in owners], empty="Anyone")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        wanted = self.form.cleaned_data
        if not wanted.get("destroyed") and wanted.get("state") != ResourceState.DESTROYED:
            queryset = queryset.exclude(state=ResourceState.DESTROYED)
        return queryset
