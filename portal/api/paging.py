"""Bounded pages for every list: ``?page=`` from 1, ``?per_page=`` at most ``MAX_PER_PAGE``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from ninja import Query, Schema
from pydantic import Field

from portal.lists.paging import MAX_PAGE_SIZE

MAX_PER_PAGE = MAX_PAGE_SIZE
DEFAULT_PER_PAGE = 25
MAX_PAGE = 100_000


class PageParams(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)


PageQuery = Query[PageParams]


def paginate(queryset: QuerySet, params: PageParams, present: Callable[[Any], Any]) -> dict[str, Any]:
    """One page of ``queryset`` (already filtered and ordered), each row through ``present``."""
    count = queryset.count()
    start = (params.page - 1) * params.per_page
    rows = list(queryset[start : start + params.per_page]) if start < count else []
    return {
        "items": [present(row) for row in rows],
        "count": count,
        "page": params.page,
        "per_page": params.per_page,
        "next_page": params.page + 1 if start + params.per_page < count else None,
    }
