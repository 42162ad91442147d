"""The OpenID Connect login and callback views, on an adapter that checks what allauth's leaves out.

allauth's openid_connect views build allauth's own adapter, so Portico's provider class routes its URLs
(same names and paths) here instead.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp, SocialToken
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse

from .id_token import IDTokenRejected, verify_id_token

_REQUIRED_ENDPOINTS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class PorticoOIDCAdapter(OpenIDConnectOAuth2Adapter):
    """Discovery whose issuer must be the configured one; an ID token always verified, nonce included."""

    expected_nonce: str | None = None  # set by the callback view from the state of this sign-in

    @property
    def openid_config(self) -> dict[str, Any]:
        config = super().openid_config
        if not getattr(self, "_portico_checked", False):
            missing = [key for key in _REQUIRED_ENDPOINTS if not isinstance(config.get(key), str)]
            if missing:
                raise IDTokenRejected(f"the provider's discovery document lacks {', '.join(missing)}")
            configured = self.get_provider().app.settings["issuer"]
            # OpenID Connect Discovery 1.0, 4.3: the issuer in the document must be the one asked for,
            # or a document served elsewhere could name its own keys for someone else's tokens.
            if config["issuer"].rstrip("/") != configured.rstrip("/"):
                raise IDTokenRejected(
                    f"the provider's discovery document names issuer {config['issuer']!r}, "
                    f"not the configured {configured!r}"
                )
            self._portico_checked = True
        return config

    def complete_login(self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any):  # noqa: ANN201 - allauth's SocialLogin
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise IDTokenRejected("the provider answered without an ID token (is 'openid' in the scope?)")
        claims = self._decode_id_token(app, id_token)
        data: dict[str, Any] = {"id_token": claims}
        if app.settings.get("fetch_userinfo", True):
            userinfo = self._fetch_user_info(token.token)
            # Core 1.0, 5.3.2: user info about another subject than the ID token's must not be used.
            if not isinstance(userinfo, dict) or userinfo.get("sub") != claims["sub"]:
                raise IDTokenRejected("the provider's user info is about another user than the ID token")
            data["userinfo"] = userinfo
        return self.get_provider().sociallogin_from_response(request, data)

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        with get_adapter().get_requests_session() as session:
            response = session.get(self.openid_config["jwks_uri"])
            response.raise_for_status()
            jwks = response.json()
        return verify_id_token(
            id_token,
            jwks=jwks,
            issuer=self.openid_config["issuer"],
            client_id=app.client_id,
            nonce=self.expected_nonce,
        )


class PorticoCallbackView(OAuth2CallbackView):
    """allauth's callback, handing the nonce stashed at the redirect to the adapter."""

    def _get_state(self, request: HttpRequest, provider):  # noqa: ANN001, ANN202 - allauth's signature
        # allauth 65 keeps no public hook between reading the state and completing the login; the nonce
        # tests in tests/portal/test_sso.py fail if a new version stops calling this.
        state, response = super()._get_state(request, provider)
        if state is not None:
            self.adapter.expected_nonce = state.get("nonce")
        return state, response


def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2LoginView.adapter_view(PorticoOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return PorticoCallbackView.adapter_view(PorticoOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
