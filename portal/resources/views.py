"""Resource pages: thin wrappers around services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from orchestrator.flowmodel.input_types import InputsInvalid
from portal.accounts.visibility import sees_everything
from portal.catalog.models import CatalogFlow
from portal.requests import selectors as request_selectors

from . import availability, pricing, selectors, services


@login_required
@require_GET
def resource_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1" and sees_everything(request.user)
    qs = selectors.visible_resources(request.user) if show_all else selectors.my_resources(request.user)
    return render(request, "resources/list.html", {"resources": qs[:500], "show_all": show_all})


@login_required
@require_GET
def resource_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A resource's record: what it is and costs, the requests that made and changed it, its audit trail."""
    resource = selectors.get_visible_resource(request.user, pk)
    requests = selectors.resource_requests(resource)
    context = {
        "r": resource,
        "requests": requests,
        # A request someone else made (an admin's extend, say) is listed, but linked only for those who
        # may open it: the owner would otherwise follow a link to a 404.
        "openable": request_selectors.openable_ids(request.user, requests),
        "events": selectors.resource_events(resource),
    }
    return render(request, "resources/detail.html", context)


@login_required
@require_POST
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    data = {"days": request.POST["days"]} if request.POST.get("days") else {}
    try:
        created = services.do_request_action(pk, action, acting_user=request.user, data=data)
    except services.Resource.DoesNotExist:
        raise Http404("no such resource") from None  # not there, or not theirs to see
    except (services.ActionNotAllowed, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return _back(request)
    except InputsInvalid as exc:
        messages.error(request, "; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
        return _back(request)
    messages.success(request, f"Request #{created.pk} to {action} submitted.")
    return redirect("requests:detail", pk=created.pk)


@login_required
@require_GET
def price(request: HttpRequest, namespace: str, flow_id: str) -> HttpResponse:
    """The request form's live estimate (htmx, on change of the priced inputs)."""
    catalog_flow = get_object_or_404(CatalogFlow, namespace=namespace, flow_id=flow_id, active=True)
    kind = (catalog_flow.labels or {}).get(services.RESOURCE_LABEL)
    values = request.GET.dict()
    context = {"price": pricing.price(kind, values), "problems": availability.problems(kind, values).values()}
    return render(request, "resources/_price.html", context)


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the page the action was asked from (list or detail), if it is one of ours."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect("resources:list")
