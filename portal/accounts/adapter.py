"""allauth adapter: self-service sign-up is off unless PORTICO_ALLOW_SIGNUP is set."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:  # noqa: ANN001 - allauth's signature
        return bool(getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", False))
