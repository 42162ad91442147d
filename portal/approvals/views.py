"""The approval queue: one decision at a time, or several with one comment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts.decorators import approver_required
from portal.lists.ages import short_age
from portal.lists.paging import paginate
from portal.requests.models import ResourceRequest
from portal.requests.selectors import display_inputs
from portal.resources.selectors import month_to_date_by_cost_center

from . import bulk, email_links, policies, selectors, services
from .filters import QueueFilter

DECISIONS = ("approve", "reject")
NO_DECISION = (
    "Nothing was decided on request #{pk}: press Approve or Reject to decide (a decision cannot be undone)."
)
BULK_NO_DECISION = (
    "Nothing was decided: press Approve selected or Reject selected to decide (a decision cannot be undone)."
)


@approver_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """What this approver may decide, oldest first, filtered and a page at a time; each with its age."""
    queued = selectors.pending_requests(request.user).select_related("estimate")
    listing = paginate(request.GET, QueueFilter(request.GET, queued, user=request.user))
    page = list(listing.page)
    spend = month_to_date_by_cost_center({r.cost_center_id for r in page})
    now = timezone.now()
    pending = []
    for pending_request in page:
        pending_request.waiting = short_age(pending_request.created, now)
        pending_request.month_to_date = spend[pending_request.cost_center_id]
        pending_request.policy_note = policies.describe(pending_request)
        pending.append((pending_request, display_inputs(pending_request)))
    return render(request, "approvals/queue.html", {"pending": pending, "list": listing})


@approver_required
@require_POST
def bulk_decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject the requests ticked in the queue with one comment: each is decided on its own
    (``bulk.decide_many``), and each one that could not be is named with the reason."""
    action = request.POST.get("decision")
    ids = bulk.selected_ids(request.POST.getlist("requests"))
    if action not in DECISIONS:
        messages.error(request, BULK_NO_DECISION)
    elif not ids:
        messages.error(request, "Nothing was decided: tick the requests to decide first.")
    else:
        approving = action == "approve"
        comment = request.POST.get("comment", "").strip()
        outcome = bulk.decide_many(ids, approve=approving, acting_user=request.user, comment=comment)
        verb = "approved" if approving else "rejected"
        if outcome.decided:
            numbers = ", ".join(f"#{pk}" for pk in outcome.decided)
            count = len(outcome.decided)
            messages.success(request, f"{count} request{pluralize(count)} {verb}: {numbers}.")
        for pk, progress in outcome.first_approval:
            messages.success(request, f"Request #{pk} {progress}.")
        for pk, reason in outcome.refused:
            messages.error(request, f"Request #{pk} was not {verb}: {reason}.")
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    """To the page the form was on (the queue with its filters), if it is one of ours."""
    target = request.POST.get("next", "")
    hosts = {request.get_host()}
    if url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure()):
        return redirect(target)
    return redirect("approvals:queue")


@approver_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject; a request that does not exist, or that this approver may not see, is a 404.

    The decision is the value of the button pressed (``decision=approve|reject``), never a default: a
    POST without it (a form submitted by Enter, a script) is refused and nothing is recorded.
    """
    action = request.POST.get("decision")
    comment = request.POST.get("comment", "").strip()
    if action not in DECISIONS:
        messages.error(request, NO_DECISION.format(pk=pk))
    else:
        service = services.approve if action == "approve" else services.reject
        try:
            decided = service(pk, acting_user=request.user, comment=comment)
        except services.SelfApprovalError as exc:
            messages.error(request, f"Request #{pk}: {exc}.")
        except services.DecisionError as exc:
            messages.error(request, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        except PermissionDenied:
            raise
        except ObjectDoesNotExist:
            raise Http404("No such request.") from None
        else:
            verb = "approved" if action == "approve" else "rejected"
            if action == "approve" and decided.state == "PENDING_APPROVAL":
                verb = services.progress(decided)
            messages.success(request, f"Request #{decided.pk} {verb}.")
    target = request.POST.get("next", "")
    hosts = {request.get_host()}
    if url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure()):
        return redirect(target)
    return redirect("approvals:queue")


@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """An emailed approve/reject link (``email_links``): GET shows the request and a confirm button and
    changes nothing; POST decides, as the approver the link was sent to, through the same service as
    the queue. Someone else signed in here is refused: a forwarded link is not theirs to use."""
    try:
        claim = email_links.read(token)
    except email_links.BadLink as exc:
        return render(request, "approvals/email_confirm.html", {"error": str(exc)}, status=400)
    approver = get_user_model().objects.filter(pk=claim.user_id, is_active=True).first()
    if approver is None:
        return render(
            request, "approvals/email_confirm.html", {"error": "This link is not valid."}, status=400
        )
    if request.user.is_authenticated and request.user.pk != approver.pk:
        raise PermissionDenied("this link was sent to another approver")
    found = (
        ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center")
        .filter(pk=claim.request_id)
        .first()
    )
    if found is None:
        raise Http404("No such request.")
    context = {"token": token, "action": claim.action, "r": found, "approver": approver}
    if request.method == "POST":
        comment = request.POST.get("comment", "").strip()[: services.MAX_COMMENT]
        service = services.approve if claim.action == "approve" else services.reject
        try:
            with transaction.atomic():  # a refused decision rolls the nonce back: the link stays usable
                email_links.spend(claim, approver)
                decided = service(found.pk, acting_user=approver, comment=comment, via="email")
        except (email_links.BadLink, services.DecisionError, PermissionDenied) as exc:
            context["error"] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
            context.update(_confirm_details(found))
            return render(request, "approvals/email_confirm.html", context, status=409)
        done = "approved" if claim.action == "approve" else "rejected"
        if claim.action == "approve" and decided.state == "PENDING_APPROVAL":
            done = services.progress(decided)
        context["done"] = f"Request #{decided.pk} {done}."
        return render(request, "approvals/email_confirm.html", context)
    context.update(_confirm_details(found))
    return render(request, "approvals/email_confirm.html", context)


def _confirm_details(found: ResourceRequest) -> dict:
    policy = policies.of(found)
    return {
        "inputs": display_inputs(found),
        "pending": found.state == "PENDING_APPROVAL",
        "require_comment": policy.require_reject_comment,
        "required": policy.required,
    }
