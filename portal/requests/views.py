"""Request pages: thin wrappers around services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from orchestrator.flowmodel.input_types import InputsInvalid
from portal.accounts.roles import is_approver, may_decide_on
from portal.accounts.visibility import sees_everything
from portal.catalog.selectors import get_active_flow
from portal.lists.paging import paginate

from . import selectors, services, topology
from .filters import RequestFilter
from .forms import COST_CENTER_FIELD, FlowRequestForm, add_input_errors


@login_required
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest, namespace: str, flow_id: str) -> HttpResponse:
    """The request form. 403 without the requester role; 404 for a day-2 flow (its resource asks)."""
    services.check_may_request(request.user)
    catalog_flow = get_active_flow(namespace, flow_id, request.user)  # 404 outside their namespaces
    services.check_may_request(request.user, namespace=catalog_flow.namespace)  # 403: seen, not requestable
    flow = catalog_flow.parse()
    if services.is_day_two(flow):
        raise Http404("no such flow")
    form = FlowRequestForm(request.POST or None, request.FILES or None, flow=flow, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.submit_request(
                requester=request.user,
                catalog_flow=catalog_flow,
                data=form.raw_inputs(),
                cost_center=form.cleaned_data[COST_CENTER_FIELD],
            )
        except InputsInvalid as exc:
            add_input_errors(form, exc)
        except services.RequestForbidden as exc:
            form.add_error(COST_CENTER_FIELD, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        except services.RequestNotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            if created.state == "PENDING_APPROVAL":
                messages.success(request, f"Request #{created.pk} submitted: an approver has been notified.")
            else:
                messages.success(request, f"Request #{created.pk} needs no approval and has started.")
            return redirect("requests:detail", pk=created.pk)
    status = 400 if form.is_bound and form.errors else 200
    context = {"catalog_flow": catalog_flow, "form": form, "topology": topology.rows(flow)}
    return render(request, "requests/new.html", context, status=status)


@login_required
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    # Overseers list everyone's requests (a scoped approver: those of their cost centers).
    show_all = request.GET.get("all") == "1" and (sees_everything(request.user) or is_approver(request.user))
    qs = selectors.visible_requests(request.user) if show_all else selectors.my_requests(request.user)
    listing = paginate(request.GET, RequestFilter(request.GET, qs, user=request.user), keep=("all",))
    return render(request, "requests/list.html", {"list": listing, "show_all": show_all})


def _detail_context(request: HttpRequest, pk: int) -> dict:
    obj = selectors.get_visible_request(request.user, pk)
    return {
        "req": obj,
        "inputs": selectors.display_inputs(obj),
        "decision": getattr(obj, "decision", None),  # reverse one-to-one: absent → None
        "can_decide": is_approver(request.user)
        and may_decide_on(request.user, obj.cost_center_id, obj.catalog_flow.namespace)
        and obj.requester_id != request.user.pk
        and obj.state == "PENDING_APPROVAL",
        **selectors.execution_detail(obj),
    }


@login_required
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "requests/detail.html", _detail_context(request, pk))


@login_required
@require_GET
def live_partial(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the detail page (resource, cost and plan, decision, state, execution, outputs):
    htmx polls it every 2 s until nothing can change any more. 404 for a request one may not see."""
    return render(request, "requests/_live.html", {**_detail_context(request, pk), "polled": True})
