"""A comment thread per request, between its requester and the approvers who oversee it.

Who may read and write is who may see the request (``accounts.visibility``): the requester, and
approvers whose scope covers its cost center. Comments are plain text (the page escapes them), capped
in size and number so a thread costs little; each is audited as ``request.commented`` and announced
with ``request_commented``, on which ``notifications`` emails the other participants after commit.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from portal.accounts import visibility
from portal.audit import services as audit

from .models import RequestComment, ResourceRequest
from .signals import request_commented

MAX_COMMENT_CHARS = 4000
MAX_COMMENTS_PER_REQUEST = 500


class CommentInvalid(ValueError):
    """The comment is empty, too long, or the thread is full; the text says which, in plain words."""


def may_comment(user: Any, request: ResourceRequest) -> bool:
    """The requester and the approvers who may see the request (the page answers 404 to anyone else)."""
    return visibility.may_see(
        user, request.requester_id, request.cost_center_id, request.catalog_flow.namespace
    )


def thread(request: ResourceRequest) -> QuerySet[RequestComment]:
    """The request's comments, oldest first (newest last), with their authors."""
    return request.comments.select_related("author").order_by("created", "id")


def thread_context(user: Any, request: ResourceRequest, *, error: str = "", text: str = "") -> dict[str, Any]:
    """What ``requests/_comments.html`` shows: the request page (its inclusion tag) and the thread's own
    view (htmx) render the same fragment from this."""
    return {
        "req": request,
        "comments": list(thread(request)),
        "may_comment": may_comment(user, request),
        "max_chars": MAX_COMMENT_CHARS,
        "error": error,
        "text": text,
    }


def clean_text(text: str) -> str:
    """``text`` trimmed, line endings unified; raises ``CommentInvalid`` when empty or too long."""
    value = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        raise CommentInvalid("Write something before posting a comment.")
    if len(value) > MAX_COMMENT_CHARS:
        raise CommentInvalid(
            f"A comment can be at most {MAX_COMMENT_CHARS} characters long; this one has {len(value)}."
        )
    return value


def do_add_comment(request_id: int, *, author: Any, text: str) -> RequestComment:
    """Add ``author``'s comment to request ``request_id``; the caller has checked ``may_comment``
    (checked again here, so the API and the CLI cannot skip it: ``PermissionDenied``)."""
    value = clean_text(text)
    with transaction.atomic():
        request = (
            ResourceRequest.objects.select_for_update()
            .select_related("catalog_flow", "cost_center")
            .get(pk=request_id)
        )
        if not may_comment(author, request):
            raise PermissionDenied("only the requester and the approvers who see a request comment on it")
        if request.comments.count() >= MAX_COMMENTS_PER_REQUEST:
            raise CommentInvalid(
                f"This request already has {MAX_COMMENTS_PER_REQUEST} comments, the most one request "
                "can hold."
            )
        comment = RequestComment.objects.create(request=request, author=author, text=value)
        audit.record(
            "request.commented",
            actor=author,
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details={"comment": comment.pk, "text": value},
        )
        request_commented.send(sender=ResourceRequest, comment=comment)
    return comment


def participants(request: ResourceRequest) -> list[Any]:
    """Who takes part in the thread: the requester, the approvers who commented, and those who decided
    (the decision's approver, and the first of two on an over-budget request), as long as they may
    still see the request. Read through reverse relations: ``requests`` imports neither ``approvals``
    nor ``resources``."""
    users = get_user_model().objects
    ids = {request.requester_id}
    ids |= set(request.comments.values_list("author_id", flat=True))
    decision = getattr(request, "decision", None)
    if decision is not None and decision.approver_id is not None:
        ids.add(decision.approver_id)
    estimate = getattr(request, "estimate", None)
    if estimate is not None and getattr(estimate, "first_approver_id", None) is not None:
        ids.add(estimate.first_approver_id)
    found = users.filter(pk__in=ids, is_active=True).order_by("pk")
    return [user for user in found if may_comment(user, request)]  # an approver moved off its scope
