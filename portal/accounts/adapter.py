"""allauth adapter: self-service sign-up is off unless PORTICO_ALLOW_SIGNUP is set; one client-IP rule."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from .throttle import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:  # noqa: ANN001 - allauth's signature
        return bool(getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", False))

    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's per-IP login limit counts the same address as axes and the webhook limit."""
        return client_ip(request)
