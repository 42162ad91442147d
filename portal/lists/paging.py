"""A bounded page of a filtered list, with the links the shared list controls show.

Page size comes from ``?per_page=`` but never exceeds ``MAX_PAGE_SIZE``: a URL cannot make a page load
the whole table. Page links keep every other query parameter, so filters survive paging and a page can
be bookmarked or shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import QueryDict
from django_filters import FilterSet

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
PAGE_PARAM = "page"
SIZE_PARAM = "per_page"


def page_size(params: Mapping[str, str], default: int = DEFAULT_PAGE_SIZE) -> int:
    """``per_page`` clamped to 1..MAX_PAGE_SIZE; anything that is not a number gives ``default``."""
    raw = params.get(SIZE_PARAM) or ""
    if not (raw.isascii() and raw.isdigit()):
        return default
    return MAX_PAGE_SIZE if len(raw) > 3 else min(max(int(raw), 1), MAX_PAGE_SIZE)


@dataclass
class ListPage:
    """One page of a list and how to reach the others; ``filter`` is the FilterSet that made it."""

    filter: FilterSet
    page: Page
    query: str  # the current parameters without the page number, URL-encoded
    kept: list[tuple[str, str]]  # the parameters a reset and the filter form keep (a tab, the page size)

    @property
    def count(self) -> int:
        return self.page.paginator.count

    @property
    def items(self) -> list[Any]:
        return list(self.page.object_list)

    def url(self, number: int) -> str:
        return f"?{self.query}&{PAGE_PARAM}={number}" if self.query else f"?{PAGE_PARAM}={number}"

    @property
    def prev_url(self) -> str:
        return self.url(self.page.previous_page_number()) if self.page.has_previous() else ""

    @property
    def next_url(self) -> str:
        return self.url(self.page.next_page_number()) if self.page.has_next() else ""

    @property
    def first_url(self) -> str:
        return self.url(1) if self.page.number > 1 else ""

    @property
    def last_url(self) -> str:
        last = self.page.paginator.num_pages
        return self.url(last) if self.page.number < last else ""

    @property
    def reset_url(self) -> str:
        return f"?{urlencode(self.kept)}" if self.kept else "?"

    @property
    def filtered(self) -> bool:
        """Whether any filter narrows the list (the empty message then says "nothing matches")."""
        if not self.filter.is_bound:
            return False
        form = self.filter.form
        form.full_clean()  # idempotent; ``cleaned_data`` then holds the valid values only
        return any(value not in (None, "", [], False) for value in form.cleaned_data.values())


def paginate(
    params: QueryDict,
    filterset: FilterSet,
    *,
    default_size: int = DEFAULT_PAGE_SIZE,
    keep: Iterable[str] = (),
    drop: Iterable[str] = (),
) -> ListPage:
    """The requested page of ``filterset.qs``; ``drop`` names parameters page links must not repeat
    (a one-off action such as the audit log's ``verify``), ``keep`` those a reset keeps and the filter
    form carries as hidden fields (the page size always)."""
    queryset: QuerySet = filterset.qs
    paginator = Paginator(queryset, page_size(params, default_size))
    page = paginator.get_page(params.get(PAGE_PARAM))
    query = params.copy()
    for name in (PAGE_PARAM, *drop):
        query.pop(name, None)
    kept = [(name, params[name]) for name in (*keep, SIZE_PARAM) if params.get(name)]
    return ListPage(filter=filterset, page=page, query=query.urlencode(), kept=kept)
