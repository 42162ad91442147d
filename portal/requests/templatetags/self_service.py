"""The request page's self-service parts (``{% load self_service %}``): the comment thread and the
cancel / resubmit panel, each its own partial, computed here so the page's view stays as it is."""

from __future__ import annotations

from typing import Any

from django import template

from portal.accounts import visibility

from .. import comments, self_service
from ..models import ResourceRequest

register = template.Library()


def _visible(user: Any, request: ResourceRequest | None) -> bool:
    return request is not None and visibility.may_see(
        user, request.requester_id, request.cost_center_id, request.catalog_flow.namespace
    )


@register.inclusion_tag("requests/_comments.html", takes_context=True)
def request_comments(context: template.Context, req: ResourceRequest) -> dict[str, Any]:
    user = context["request"].user
    # In the request page's poll (``views.live_partial``) the comment being typed is kept (hx-preserve);
    # the thread's own answer to a posted comment comes with an empty box.
    keep_draft = bool(context.get("polled"))
    thread = comments.thread_context(user, req)
    return {**thread, "csrf_token": context.get("csrf_token"), "keep_draft": keep_draft}


@register.inclusion_tag("requests/_self_service.html", takes_context=True)
def request_self_service(context: template.Context, req: ResourceRequest) -> dict[str, Any]:
    """Cancel (the requester, while pending), edit and resubmit (the requester, once it did not work
    out), and the links between a request and its resubmissions the user may open."""
    user = context["request"].user
    mine = req.requester_id == getattr(user, "pk", None)
    retry_refusal = None
    if mine and req.state in self_service.RESUBMITTABLE_STATES:
        retry_refusal = self_service.resubmit_refusal(req)
    origin = req.resubmitted_from
    return {
        "req": req,
        "csrf_token": context.get("csrf_token"),
        "may_cancel": self_service.may_cancel(user, req),
        "may_resubmit": retry_refusal is None and self_service.may_resubmit(user, req),
        "retry_refusal": retry_refusal,
        "origin": origin if _visible(user, origin) else None,
        "resubmissions": [r for r in req.resubmissions.order_by("created", "pk") if _visible(user, r)],
    }
