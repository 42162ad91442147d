"""Resource pages: thin wrappers around services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from orchestrator.flowmodel.input_types import InputsInvalid
from portal.accounts.visibility import sees_everything
from portal.catalog.models import CatalogFlow
from portal.lists.paging import paginate
from portal.requests import selectors as request_selectors
from portal.requests.services import check_may_request

from . import availability, pricing, selectors, services
from .filters import ResourceFilter
from .models import ResourceState

DESTROY = "destroy"
CHANGING = (ResourceState.PROVISIONING, ResourceState.DESTROYING)
CONFIRMED = "yes"  # the destroy confirmation's ``confirm`` value


@login_required
@require_GET
def resource_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1" and sees_everything(request.user)
    qs = selectors.visible_resources(request.user) if show_all else selectors.my_resources(request.user)
    filterset = ResourceFilter(request.GET, qs, user=request.user, everyone=show_all)
    listing = paginate(request.GET, filterset, keep=("all",))
    return render(request, "resources/list.html", {"list": listing, "show_all": show_all})


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
        # The page polls itself while something is happening to the resource (being made or destroyed,
        # or a day-2 request still open): its state, IP and cost arrive without a reload.
        "changing": resource.state in CHANGING or any(not q.is_terminal for q in requests),
    }
    return render(request, "resources/detail.html", context)


@login_required
@require_POST
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Ask for a day-2 action. A destroy is asked for only by the confirmation page's own POST
    (``confirm=yes``): the first POST answers that page, naming what will be lost (no JavaScript needed)."""
    if action == DESTROY and request.POST.get("confirm") != CONFIRMED:
        return _confirm_destroy(request, pk)
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


def _confirm_destroy(request: HttpRequest, pk: int) -> HttpResponse:
    """The page that asks "destroy it?" with the resource's name, IP and monthly cost. In the order of
    ``services.do_request_action``: the requester role, then 404 for a resource one may not see; and no
    question at all when the destroy would be refused anyway."""
    try:
        check_may_request(request.user)
        resource = selectors.get_visible_resource(request.user, pk)
        services.action_flow(resource, DESTROY)
    except (services.ActionNotAllowed, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return _back(request)
    refusal = services.action_refusal(resource, DESTROY)
    if refusal is None and (pending := services.open_action_request(resource, DESTROY)) is not None:
        refusal = f"request #{pending.pk} for '{DESTROY}' is still open"
    if refusal is not None:
        messages.error(request, refusal)
        return _back(request)
    target = _safe_next(request)
    context = {"r": resource, "next": target, "back": target or reverse("resources:detail", args=[pk])}
    return render(request, "resources/confirm_destroy.html", context)


def _safe_next(request: HttpRequest) -> str:
    """The page the action was asked from, if it is one of ours; else ""."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the page the action was asked from (list or detail), if it is one of ours."""
    return redirect(_safe_next(request) or "resources:list")
