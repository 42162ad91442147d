"""Portico's OpenID Connect provider class (allauth's ``provider_class`` setting points here).

It differs from allauth's in two ways: its URLs come from ``portal.accounts.sso.urls`` (views that verify
the ID token), and every authorization request carries a fresh nonce, kept in the sign-in's state.
"""

from __future__ import annotations

import secrets
from typing import Any

from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.http import HttpRequest, HttpResponse
from requests import RequestException

from .views import PorticoOIDCAdapter


class PorticoOIDCProvider(OpenIDConnectProvider):
    package = "portal.accounts.sso"
    oauth2_adapter_class = PorticoOIDCAdapter

    def redirect(
        self, request: HttpRequest, process: str, next_url: str | None = None, data: Any = None, **kwargs: Any
    ) -> HttpResponse:
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce  # last: a nonce passed in the request's auth_params never wins
        try:
            # ``nonce`` lands in the stashed state (allauth keeps extra keyword arguments there).
            return super().redirect(
                request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
            )
        except (OAuth2Error, RequestException) as exc:
            # Discovery failed or named another issuer: the sign-in error page, not a server error.
            return render_authentication_error(request, self, exception=exc)
