"""htmx requests whose session expired are sent to the login page as a whole-page navigation."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class HtmxLoginRedirectMiddleware:
    """Turn ``login_required``'s 302 to the login page into an ``HX-Redirect`` for htmx requests.

    Without it htmx follows the redirect itself and swaps the login page into the polled panel. ``next``
    becomes the page the user is looking at (``HX-Current-URL``), not the partial that was polled.
    Must come after ``django_htmx.middleware.HtmxMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code not in (301, 302, 303, 307, 308):
            return response
        login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        current = request.htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(f"{login_path}?{urlencode({'next': current})}")
