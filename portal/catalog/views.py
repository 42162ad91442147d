from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import catalog_by_namespace


@login_required
def catalog_index(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/index.html", {"namespaces": catalog_by_namespace()})
