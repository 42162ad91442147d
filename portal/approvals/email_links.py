"""Approve or reject from an email: a signed link for one approver, one request and one action.

The link only *opens a confirm page* (GET never changes anything: mail scanners and link previews
fetch URLs). The decision is the page's POST, which goes through ``services.approve``/``reject`` with
every rule of the queue (role, groups, quorum, self-approval, "still pending"). The token is signed
with ``django.core.signing`` under its own salt, expires after ``PORTICO_APPROVAL_LINK_HOURS``, and
carries a random nonce that is recorded when the link decides (``EmailLinkUse``), so it decides once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from .models import EmailLinkUse

SALT = "portico.approvals.email-link"
ACTIONS = ("approve", "reject")
MAX_TOKEN = 400  # characters: a real token is far shorter; longer text is not even unsigned


class BadLink(Exception):
    """The link is forged, altered, expired or already used: the message says which, in plain words."""


@dataclass(frozen=True)
class Claim:
    request_id: int
    user_id: int
    action: str
    nonce: str


def valid_hours() -> float:
    return float(getattr(settings, "PORTICO_APPROVAL_LINK_HOURS", 72))


def make(request_id: int, user_id: int, action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    payload = {"r": request_id, "u": user_id, "a": action, "n": secrets.token_urlsafe(18)}
    return signing.dumps(payload, salt=SALT)


def url(request_id: int, user_id: int, action: str) -> str:
    path = reverse("approvals:email_confirm", args=[make(request_id, user_id, action)])
    return settings.PORTICO_BASE_URL.rstrip("/") + path


def read(token: str) -> Claim:
    """The link's claim; ``BadLink`` when it is not ours, expired, or used."""
    if len(token) > MAX_TOKEN:
        raise BadLink("This link is not valid.")
    try:
        data = signing.loads(token, salt=SALT, max_age=valid_hours() * 3600)
    except signing.SignatureExpired:
        raise BadLink("This link has expired. Decide from the approval queue instead.") from None
    except signing.BadSignature:
        raise BadLink("This link is not valid.") from None
    try:
        claim = Claim(int(data["r"]), int(data["u"]), str(data["a"]), str(data["n"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink("This link is not valid.") from None
    if claim.action not in ACTIONS:
        raise BadLink("This link is not valid.")
    if EmailLinkUse.objects.filter(nonce=claim.nonce).exists():
        raise BadLink("This link was already used. Each link decides once.")
    return claim


def spend(claim: Claim, user: Any) -> None:
    """Record the nonce; call inside the transaction that decides, so a refused decision leaves the
    link usable and two tabs posting at once decide once (the second hits the unique nonce)."""
    try:
        with transaction.atomic():
            EmailLinkUse.objects.create(nonce=claim.nonce, request_id=claim.request_id, user=user)
    except IntegrityError:
        raise BadLink("This link was already used. Each link decides once.") from None
