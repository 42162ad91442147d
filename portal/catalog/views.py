from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.lists.paging import paginate

from .filters import CatalogFilter
from .selectors import requestable_flows


@login_required
def catalog_index(request: HttpRequest) -> HttpResponse:
    """Requestable flows, searchable and by label, a page at a time (grouped by namespace on the page)."""
    listing = paginate(
        request.GET, CatalogFilter(request.GET, requestable_flows(request.user), user=request.user)
    )
    return render(request, "catalog/index.html", {"list": listing})
