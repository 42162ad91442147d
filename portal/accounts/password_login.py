"""PORTICO_PASSWORD_LOGIN=false: no password opens a session, whichever form it was typed into.

The login page then shows only the SSO buttons and allauth's form refuses with a message (the account
adapter); this backend, listed before every password-checking one, covers the admin's login form and any
other caller of ``django.contrib.auth.authenticate``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class PasswordLoginGate:
    """Only ``authenticate``: without ``get_user`` it is never the backend a session is bound to
    (``force_login`` and allauth pick the first backend that has one)."""

    def authenticate(self, request: HttpRequest | None, password: str | None = None, **kwargs: Any) -> None:
        if password is not None and not settings.PORTICO_PASSWORD_LOGIN:
            raise PermissionDenied("password login is turned off")  # stops the backends after this one
        return None
