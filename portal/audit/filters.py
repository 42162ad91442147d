"""The audit log's filter form for the shared list component. The filtering itself stays one rule,
``selectors.filter_events`` (the page and the CSV export both go through it, as does every verb's
older spelling): this FilterSet supplies the form, its choices and the URL parameters."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from portal.accounts import visibility
from portal.lists.filters import IdFilter, ListFilterSet

from . import selectors


class AuditFilter(ListFilterSet):
    actor = IdFilter(label="Actor")
    cost_center = IdFilter(label="Cost center")
    flow = django_filters.ChoiceFilter(label="Flow", empty_label="Any")
    verb = django_filters.ChoiceFilter(label="Event", empty_label="Any")
    since = django_filters.DateFilter(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def setup(self) -> None:
        choices = selectors.filter_choices()
        self.set_choices("actor", [(u.pk, u.get_username()) for u in choices["actors"]], empty="Anyone")
        self.set_choices("cost_center", [(c.pk, c.code) for c in choices["cost_centers"]])
        self.set_choices("flow", [(flow, flow) for flow in choices["flows"]])
        self.set_choices("verb", [(verb, label) for verb, label in choices["verbs"]])

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The raw parameters through ``selectors.filter_events``: it knows which malformed values to
        ignore and which ids can match nothing (the form would only drop them)."""
        return visibility.visible_audit_events(selectors.filter_events(self.data), self.user)
