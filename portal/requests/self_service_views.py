"""Self-service pages on one request: cancel it, edit and resubmit it, its comment thread.

Thin, like ``views``: each looks the request up through ``selectors.get_visible_request`` (404 for one
the user may not see), then leaves the rule to ``self_service`` or ``comments``, which check again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orchestrator.flowmodel.input_types import InputsInvalid

from . import comments, selectors, self_service, services
from .forms import COST_CENTER_FIELD, FlowRequestForm, add_input_errors
from .models import ResourceRequest


@login_required
@require_POST
def cancel_request(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the requester cancels (403 for others who may see it), only while pending approval."""
    obj = selectors.get_visible_request(request.user, pk)
    try:
        self_service.do_cancel_request(obj.pk, acting_user=request.user)
    except self_service.NotCancellable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{obj.pk} is cancelled. The approvers have been told.")
    return redirect("requests:detail", pk=obj.pk)


def _submit(request: HttpRequest, original: ResourceRequest, form: FlowRequestForm) -> ResourceRequest | None:
    """Submit the resubmission; put what the service refuses on the form (None then)."""
    try:
        return self_service.do_resubmit_request(
            original,
            requester=request.user,
            data=form.raw_inputs(),
            cost_center=form.cleaned_data[COST_CENTER_FIELD],
        )
    except InputsInvalid as exc:
        add_input_errors(form, exc)
    except services.RequestForbidden as exc:
        form.add_error(COST_CENTER_FIELD, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    except (services.RequestNotAllowed, self_service.NotResubmittable) as exc:
        form.add_error(None, str(exc))
    return None


@login_required
@require_http_methods(["GET", "POST"])
def resubmit_request(request: HttpRequest, pk: int) -> HttpResponse:
    """The catalog flow's form, prefilled from a rejected, failed or cancelled request (secrets and files
    are typed or uploaded again); submitting it makes a new request that links back to this one."""
    original = selectors.get_visible_request(request.user, pk)
    try:
        self_service.check_may_resubmit(request.user, original)
    except self_service.NotResubmittable as exc:
        messages.error(request, str(exc))
        return redirect("requests:detail", pk=original.pk)
    catalog_flow = original.catalog_flow
    flow = catalog_flow.parse()
    if request.method == "POST":
        form = FlowRequestForm(request.POST, request.FILES or None, flow=flow, user=request.user)
        created = _submit(request, original, form) if form.is_valid() else None
        if created is not None:
            messages.success(request, f"Request #{created.pk} submitted, edited from request #{original.pk}.")
            return redirect("requests:detail", pk=created.pk)
    else:
        form = FlowRequestForm(flow=flow, user=request.user, initial=self_service.prefill(original, flow))
    again = self_service.not_prefilled(flow)
    note = f"This form is filled in from request #{original.pk}. Check it, change what you need, and submit."
    if again:
        note += f" Fill in again: {', '.join(again)} (secrets and files are never copied)."
    messages.info(request, note)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "requests/new.html", {"catalog_flow": catalog_flow, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def request_comments(request: HttpRequest, pk: int) -> HttpResponse:
    """The thread as a fragment (for htmx), and posting to it. Without htmx a post returns to the page."""
    req = selectors.get_visible_request(request.user, pk)
    error, text = "", ""
    if request.method == "POST":
        text = request.POST.get("text", "")[: comments.MAX_COMMENT_CHARS * 2]
        try:
            comments.do_add_comment(req.pk, author=request.user, text=text)
            text = ""
        except comments.CommentInvalid as exc:
            error = str(exc)
        if not request.htmx:
            if error:
                messages.error(request, error)
            return redirect(reverse("requests:detail", args=[req.pk]) + "#comments")
    context = comments.thread_context(request.user, req, error=error, text=text)
    return render(request, "requests/_comments.html", context)
