"""Filters the list pages share: a multi-field search, id filters that stay inside bigint, and date
bounds that compare the stored datetime (so an index on it applies), plus the base FilterSet.

Malformed values are dropped by the form (the list is then unfiltered on that field), never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import Expression, Q, QuerySet
from django.utils import timezone

MAX_SEARCH_LENGTH = 200
MAX_SEARCH_TERMS = 5
_MAX_ID = 2**63 - 1  # a bigint primary key: no row has a larger id


def parse_id(text: str | None) -> int | None:
    """An id typed or linked into a filter: None when absent or malformed; -1 (matches no row) for digits
    beyond any id, which SQL would overflow on (SQLite) rather than answer "none". ``str.isdigit`` alone
    also accepts '²', which ``int`` refuses."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > len(str(_MAX_ID)) or int(text) > _MAX_ID:
        return -1
    return int(text)


class SearchFilter(django_filters.CharFilter):
    """Every word must occur (case-insensitively) in one of ``fields`` (columns, or forward relations:
    no row repeats); ``#12`` or ``12`` also matches the row with id 12 when ``by_id``. ``expressions``
    name computed values to search (a JSON label)."""

    def __init__(
        self,
        *,
        fields: Iterable[str],
        expressions: Mapping[str, Expression] | None = None,
        by_id: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label", "Search")
        kwargs.setdefault("max_length", MAX_SEARCH_LENGTH)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "search"}))
        super().__init__(**kwargs)
        self.fields = tuple(fields)
        self.expressions = dict(expressions or {})
        self.by_id = by_id

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        terms = (value or "").split()[:MAX_SEARCH_TERMS]
        if not terms:
            return qs
        if self.expressions:
            qs = qs.annotate(**self.expressions)
        for term in terms:
            match = Q()
            for name in (*self.fields, *self.expressions):
                match |= Q(**{f"{name}__icontains": term})
            if self.by_id and (pk := parse_id(term.removeprefix("#"))) is not None and pk >= 0:
                match |= Q(pk=pk)
            qs = qs.filter(match)
        return qs


class IdFilter(django_filters.Filter):
    """An id from a select (``choices`` set per request); an id beyond bigint matches nothing rather
    than being ignored: someone asked for that one row, and it does not exist."""

    field_class = forms.CharField

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        pk = parse_id(value)
        if pk is None:
            return qs
        return qs.none() if pk < 0 else qs.filter(**{self.field_name: pk})


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class SinceFilter(django_filters.DateFilter):
    """Rows on or after this day (the current time zone's midnight)."""

    def __init__(self, field_name: str, label: str = "From", **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(field_name=field_name, label=label, **kwargs)

    def filter(self, qs: QuerySet, value: date | None) -> QuerySet:
        return qs.filter(**{f"{self.field_name}__gte": _start_of(value)}) if value else qs


class UntilFilter(django_filters.DateFilter):
    """Rows up to and including this day: before the next day's midnight (the last day has no next)."""

    def __init__(self, field_name: str, label: str = "To", **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(field_name=field_name, label=label, **kwargs)

    def filter(self, qs: QuerySet, value: date | None) -> QuerySet:
        if not value or value >= date.max:
            return qs
        return qs.filter(**{f"{self.field_name}__lt": _start_of(value + timedelta(days=1))})


class ListFilterSet(django_filters.FilterSet):
    """A FilterSet over a queryset the view already narrowed to what ``user`` may see.

    Subclasses fill choices per user in ``setup`` (a requester's flows, an approver's cost centers) and
    may drop filters a role has no use for; a dropped filter's parameter is then simply ignored.
    """

    def __init__(self, data: Any, queryset: QuerySet, *, user: Any = None) -> None:
        super().__init__(data, queryset=queryset)
        self.user = user
        self.setup()

    def setup(self) -> None:
        """Per-request choices and role-dependent filters; nothing by default."""

    def set_choices(self, name: str, choices: Iterable[tuple[Any, str]], *, empty: str = "Any") -> None:
        """Render filter ``name`` as a select of ``choices`` (values outside them are ignored)."""
        options = [("", empty), *[(str(value), label) for value, label in choices]]
        if isinstance(self.filters[name], django_filters.ChoiceFilter):
            self.filters[name].extra.update(choices=options[1:], empty_label=empty)
        else:
            self.filters[name].extra["widget"] = forms.Select(choices=options)
