"""Throttling on the shared cache: who the client is, what a login names, and a fixed-window counter.

Every gunicorn worker must see the same counts, so all of it goes through Django's cache, which is Redis
whenever ``REDIS_URL`` is set (settings). One rule for the client IP serves django-axes, allauth's rate
limits and the webhook limit: ``X-Forwarded-For`` is believed only as far as ``PORTICO_TRUSTED_PROXY_COUNT``
proxies of our own appended to it; without proxies it is ignored, or anyone could pick a fresh IP per try.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of the client, counting ``PORTICO_TRUSTED_PROXY_COUNT`` proxies from the right."""
    proxies = int(getattr(settings, "PORTICO_TRUSTED_PROXY_COUNT", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            # Our proxies append what they saw; the leftmost entries are the client's own claims.
            return hops[max(0, len(hops) - proxies)]
    return request.META.get("REMOTE_ADDR") or "unknown"


def login_identity(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a login attempt names, one spelling per account (axes' ``AXES_USERNAME_CALLABLE``).

    allauth passes ``username`` or ``email`` depending on what was typed, and matches both without regard
    to case; counting "Alice", "alice" and "alice@example.com" apart would multiply an attacker's tries.
    """
    credentials = credentials or {}
    raw = credentials.get("username") or credentials.get("email") or credentials.get("login")
    if not raw and request is not None:
        raw = request.POST.get("login") or request.POST.get("username")
    typed = str(raw or "").strip().lower()
    if not typed:
        return ""
    user_model = get_user_model()
    username_field = user_model.USERNAME_FIELD
    match = (
        user_model._default_manager.filter(Q(**{f"{username_field}__iexact": typed}) | Q(email__iexact=typed))
        .order_by("pk")
        .values_list(username_field, flat=True)
        .first()
    )
    return str(match).lower() if match is not None else typed


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' lock check, for logins that come with a request.

    The lock is keyed by the client IP, so a call without a request (Django's test client ``login()``, a
    shell) has nothing to count; every HTTP login path (allauth, admin) passes its request.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` window; a count of 0 switches the limit off."""

    count: int
    seconds: int


def hit(scope: str, subject: str, limit: Limit) -> int | None:
    """Count one hit of ``subject`` in ``scope``; the seconds until its window ends if it is over the limit.

    The subject's first hit opens its window (one atomic ``ADD``, then one ``INCR`` per hit), so a burst is
    never split across a clock boundary. The subject is hashed: a credential used as a subject (a webhook
    key) is never written to Redis in the clear.
    """
    if limit.count <= 0 or limit.seconds <= 0:
        return None
    now = time.time()
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    key = f"throttle:{scope}:{digest}"
    opened = f"{key}:opened"
    if cache.add(key, 1, timeout=limit.seconds):
        cache.set(opened, now, timeout=limit.seconds)
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the window closed between add and incr: this hit opens the next one
            cache.set(key, 1, timeout=limit.seconds)
            cache.set(opened, now, timeout=limit.seconds)
            count = 1
    if count <= limit.count:
        return None
    return max(1, math.ceil(float(cache.get(opened, now)) + limit.seconds - now))
