"""The notifications page: one's own in-app notifications, newest first; open one, mark read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import in_app

PAGE_SIZE = 100


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    items = list(in_app.mine(request.user)[:PAGE_SIZE])
    unread = in_app.unread_count(request.user)
    return render(request, "notifications/list.html", {"notifications": items, "unread": unread})


def _local(url: str) -> str:
    """The stored link if it stays on this site (it always should: it is built with ``reverse``)."""
    safe = url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    return url if safe else "/"


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification to its object, marking it read; 404 for one that is not one's own."""
    return redirect(_local(in_app.mark_read(request.user, pk).url))


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    in_app.mark_read(request.user, pk)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    in_app.mark_all_read(request.user)
    return redirect("notifications:list")
