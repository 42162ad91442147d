"""Personal API tokens: creating, revoking, checking one presented, and what its scope allows.

A token is ``pt_<8 hex>_<43 url-safe characters>``: the first part is the row's ``prefix`` (found by an
index), the whole is hashed with SHA-256 (it carries 256 random bits, so no salt or slow hash is needed)
and compared in constant time. Scope narrows the user's own rights, never widens them:

- **namespaces**: ``*`` (all), ``team-a`` (that namespace), ``team-a.*`` (it and every namespace below):
  ``accounts.namespace_patterns``, the rule role grants use too.
- **verbs**: ``read`` (every GET), ``request`` (submit and cancel requests, day-2 actions), ``approve``
  (approve, reject), ``operate`` (kill, resume, restart, replay).

Creation, revocation and every use refused by scope, expiry or revocation are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.accounts import namespace_patterns
from portal.audit import services as audit

from .models import ApiToken

VERBS = ("read", "request", "approve", "operate")
MAX_LIFETIME = timedelta(days=365)
DEFAULT_LIFETIME = timedelta(days=30)
MAX_PATTERNS = 20
MAX_TOKENS_PER_USER = 50
_PREFIX = "pt_"
_TOKEN = re.compile(r"^(pt_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


class TokenInvalid(ValueError):
    """The scope or lifetime asked for cannot be granted; ``fields`` says which part is wrong."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Issued:
    """A new token's row and its plain text, which exists only here: it is never stored."""

    token: ApiToken
    plain: str


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _check_scope(namespaces: list[str], verbs: list[str], lifetime: timedelta) -> None:
    fields: dict[str, str] = {}
    if not namespaces or len(namespaces) > MAX_PATTERNS:
        fields["namespaces"] = f"give 1 to {MAX_PATTERNS} namespace patterns"
    else:
        for pattern in namespaces:
            try:
                namespace_patterns.check_pattern(pattern)
            except ValidationError as exc:
                fields["namespaces"] = " ".join(exc.messages)[:300]
                break
    if not verbs or any(verb not in VERBS for verb in verbs):
        fields["verbs"] = f"give one or more of {', '.join(VERBS)}"
    if not timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
        fields["expires_in_days"] = f"a token lives from 1 minute to {MAX_LIFETIME.days} days"
    if fields:
        raise TokenInvalid(fields)


def do_create_token(
    user: Any,
    *,
    name: str,
    namespaces: list[str],
    verbs: list[str],
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> Issued:
    """A new token for ``user``; raises ``TokenInvalid``. The plain text is returned once."""
    _check_scope(namespaces, verbs, lifetime)
    if ApiToken.objects.filter(user=user, revoked_at=None, expires_at__gt=timezone.now()).count() >= (
        MAX_TOKENS_PER_USER
    ):
        raise TokenInvalid({"name": f"at most {MAX_TOKENS_PER_USER} live tokens each: revoke one first"})
    prefix = f"{_PREFIX}{secrets.token_hex(4)}"
    plain = f"{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip()[:100] or "token",
            prefix=prefix,
            digest=_digest(plain),
            namespaces=list(dict.fromkeys(namespaces)),
            verbs=[verb for verb in VERBS if verb in verbs],
            expires_at=timezone.now() + lifetime,
        )
        audit.record(
            "api_token.created",
            actor=user,
            target=token,
            details={
                "name": token.name,
                "prefix": prefix,
                "namespaces": token.namespaces,
                "verbs": token.verbs,
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return Issued(token=token, plain=plain)


def do_revoke_token(token_id: int, *, acting_user: Any, as_admin: bool = False) -> ApiToken:
    """Revoke one of ``acting_user``'s tokens (idempotent); ``ApiToken.DoesNotExist`` for anyone else's,
    unless ``as_admin`` (the Django admin, behind its own permission check)."""
    with transaction.atomic():
        tokens = ApiToken.objects.select_for_update()
        token = tokens.get(pk=token_id) if as_admin else tokens.get(pk=token_id, user=acting_user)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                "api_token.revoked",
                actor=acting_user,
                target=token,
                details={"prefix": token.prefix, "owner": token.user.get_username()},
            )
    return token


def record_denied(token: ApiToken, why: str, **details: Any) -> None:
    """Audit a use of ``token`` that was refused (expired, revoked, out of scope)."""
    audit.record(
        "api_token.denied",
        actor=token.user,
        target=token,
        details={"prefix": token.prefix, "why": why, **details},
    )


def authenticate(plain: str) -> ApiToken | None:
    """The live token ``plain`` is, or None. An expired or revoked one is audited as denied."""
    match = _TOKEN.match(plain or "")
    if match is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=match.group(1)).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(plain)):
        return None
    if not token.user.is_active:
        return None
    if not token.is_active:
        record_denied(token, "revoked" if token.revoked_at else "expired")
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # at most once a minute
    return token
