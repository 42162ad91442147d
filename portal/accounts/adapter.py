"""allauth adapters: who may sign up, one client-IP rule, password login on or off, roles from SSO.

Self-service sign-up is off unless PORTICO_ALLOW_SIGNUP is set; PORTICO_PASSWORD_LOGIN=false leaves single
sign-on as the only way in. An SSO login sets the user's managed groups from the provider's claim before
the session exists (``user.roles_synced`` when they change); one refused for a bad token or a missing role
is audited as ``user.login_refused``. Logins themselves are audited from Django's signal
(portal/audit/receivers.py), whichever way in.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.base.constants import AuthError
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import oidc
from .signals import sso_login_refused, sso_roles_synced
from .sso.id_token import IDTokenRejected
from .throttle import client_ip

PASSWORD_LOGIN_OFF = "Password sign-in is turned off here: use your organisation's single sign-on."


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:  # noqa: ANN001 - allauth's signature
        if not settings.PORTICO_PASSWORD_LOGIN:
            return False  # an account without SSO could never sign in
        return bool(getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", False))

    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's per-IP login limit counts the same address as axes and the webhook limit."""
        return client_ip(request)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """The login form's answer when password login is off (the backend gate refuses the rest)."""
        if not settings.PORTICO_PASSWORD_LOGIN:
            raise forms.ValidationError(PASSWORD_LOGIN_OFF)
        super().pre_authenticate(request, **credentials)


def _wanted_groups(sociallogin) -> set[str]:  # noqa: ANN001 - allauth's SocialLogin
    app = sociallogin.account.get_provider().app
    claim = app.settings.get("groups_claim") or settings.PORTICO_OIDC_GROUPS_CLAIM
    return oidc.mapped_groups(oidc.login_claims(sociallogin.account.extra_data), claim)


def _who(sociallogin) -> dict[str, Any]:  # noqa: ANN001 - allauth's SocialLogin
    return {
        "method": "sso",
        "provider": sociallogin.account.get_provider().app.provider_id,
        "subject": sociallogin.account.uid,
    }


def _sync_roles(request: HttpRequest, sociallogin, wanted: set[str]) -> oidc.GroupChange:  # noqa: ANN001
    """Set the user's managed groups; audited (with the provider's word for it) when they change."""
    change = oidc.sync_groups(sociallogin.user, wanted)
    if change.added or change.removed:
        sso_roles_synced.send(
            sender=SocialAccountAdapter,
            user=sociallogin.user,
            request=request,
            details={**_who(sociallogin), "groups_added": change.added, "groups_removed": change.removed},
        )
    return change


def _refusal_page(request: HttpRequest, provider_name: str, message: str, status: int) -> HttpResponse:
    return render(
        request,
        "socialaccount/sso_refused.html",
        {"provider_name": provider_name, "message": message},
        status=status,
    )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:  # noqa: ANN001 - SocialLogin
        """The identity provider decides who has an account; PORTICO_OIDC_REQUIRE_ROLE narrows it."""
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:  # noqa: ANN001 - SocialLogin
        """Set a known user's groups from the token's claim; refuse it if a role is required and none given.

        Before the session exists, so no request ever runs with roles the provider has taken away.
        """
        if sociallogin.state.get("process") == AuthProcess.CONNECT:
            return  # linking an account to the signed-in user changes no role; the next login does
        app = sociallogin.account.get_provider().app
        claim = app.settings.get("groups_claim") or settings.PORTICO_OIDC_GROUPS_CLAIM
        wanted = _wanted_groups(sociallogin)
        refused = settings.PORTICO_OIDC_REQUIRE_ROLE and not wanted
        existing = sociallogin.is_existing
        with transaction.atomic():
            # A refused user's managed groups go now too: the provider no longer grants them.
            change = _sync_roles(request, sociallogin, wanted) if existing else None
            if refused:
                sso_login_refused.send(
                    sender=SocialAccountAdapter,
                    user=sociallogin.user if existing else None,
                    request=request,
                    details={
                        **_who(sociallogin),
                        "reason": "no role",
                        "groups_removed": change.removed if change else [],
                    },
                )
        if not refused:
            return
        message = (
            f"Your account at {app.name} gives you no role in Portico (claim {claim!r}). "
            "Ask your administrator to add you to a group that grants one."
        )
        raise ImmediateHttpResponse(_refusal_page(request, app.name, message, status=403))

    def save_user(self, request: HttpRequest, sociallogin, form=None):  # noqa: ANN001, ANN201 - allauth's
        """A new SSO user: created with the groups its claim maps to, in one transaction."""
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form)
            _sync_roles(request, sociallogin, _wanted_groups(sociallogin))
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider,  # noqa: ANN001 - allauth's Provider
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict | None = None,
    ) -> None:
        """Audit the refusal and answer with what went wrong (only Portico's own reasons are shown)."""
        name = getattr(getattr(provider, "app", None), "name", None) or getattr(
            provider, "name", "the provider"
        )
        if error == AuthError.CANCELLED:
            message = f"Sign-in with {name} was cancelled."
        elif isinstance(exception, IDTokenRejected):
            message = f"Sign-in with {name} was refused: {exception}."
        else:
            message = (
                f"Sign-in with {name} failed. Try again, or tell your administrator if it keeps failing."
            )
        if error != AuthError.CANCELLED:
            provider_id = getattr(getattr(provider, "app", None), "provider_id", None) or getattr(
                provider, "id", ""
            )
            reason = (
                str(exception)
                if isinstance(exception, IDTokenRejected)
                else (type(exception).__name__ if exception else str(error or "unknown"))
            )
            sso_login_refused.send(
                sender=SocialAccountAdapter,
                user=None,
                request=request,
                details={"method": "sso", "provider": provider_id, "reason": reason},
            )
        raise ImmediateHttpResponse(_refusal_page(request, name, message, status=400))
