"""Who is calling: a bearer token (scripts, the CLI) or the browser's session (the UI, with CSRF).

Both give a ``Caller``: the user, and the token when there is one. Endpoints then check the token's
scope with ``require`` and narrow lists with ``scoped``; the user's own rights stay the services'
and ``accounts.visibility``'s, so a token only ever narrows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from portal.accounts import namespace_patterns

from . import tokens
from .errors import ApiError
from .models import ApiToken


@dataclass(frozen=True)
class Caller:
    user: Any
    token: ApiToken | None = None


class BearerToken(HttpBearer):
    """``Authorization: Bearer pt_…``. A header that is present but wrong is a 401 at once: falling
    through to the session would answer a bad token with a CSRF error."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError()
        return self.authenticate(request, value.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        found = tokens.authenticate(token)
        if found is None:
            raise AuthenticationError()
        return Caller(user=found.user, token=found)


class SessionCookie(APIKeyCookie):
    """The UI's session. CSRF is checked for unsafe methods, but only once someone is logged in: an
    anonymous call is a 401, not a CSRF failure."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header with the session")
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        return Caller(user=request.user) if key is not None else None


AUTH = [BearerToken(), SessionCookie()]


def caller(request: HttpRequest) -> Caller:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def require(request: HttpRequest, verb: str, namespace: str | None = None) -> Any:
    """The calling user, once the token (if any) allows ``verb`` on ``namespace``.

    A missing verb is 403 (the caller knows what they asked for); a namespace outside the token's is
    404, like an object the user may not see. Both are audited as a denied use of the token.
    """
    who = caller(request)
    token = who.token
    if token is not None:
        if verb not in token.verbs:
            tokens.record_denied(token, "verb", verb=verb, path=request.path[:200])
            raise ApiError(403, f"this token does not allow '{verb}'")
        if namespace is not None and not namespace_patterns.any_matches(token.namespaces, namespace):
            tokens.record_denied(token, "namespace", verb=verb, namespace=namespace, path=request.path[:200])
            raise ApiError(404, "not found")
    return who.user


def scoped(request: HttpRequest, queryset: QuerySet, field: str) -> QuerySet:
    """``queryset`` narrowed to the token's namespaces (``field`` holds the namespace); a session sees all
    its user may see."""
    token = caller(request).token
    return queryset if token is None else queryset.filter(namespace_patterns.to_q(token.namespaces, field))
