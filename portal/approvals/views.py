"""The approval queue."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from portal.accounts.decorators import approver_required

from . import selectors, services


@approver_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "approvals/queue.html", {"pending": selectors.queue(request.user)})


@approver_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject; a request that does not exist, or that this approver may not see, is a 404."""
    action = request.POST.get("decision")
    comment = request.POST.get("comment", "").strip()
    if action not in ("approve", "reject"):
        messages.error(request, "Choose approve or reject.")
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
                verb = "has its first approval; over budget, it needs a second approver"
            messages.success(request, f"Request #{decided.pk} {verb}.")
    target = request.POST.get("next", "")
    hosts = {request.get_host()}
    if url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure()):
        return redirect(target)
    return redirect("approvals:queue")
