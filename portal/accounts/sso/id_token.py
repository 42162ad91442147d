"""Checking an ID token (OpenID Connect Core 1.0, section 3.1.3.7) against the provider's published keys.

Every check runs even though the token came straight from the token endpoint over TLS (the spec would
let a client skip the signature there): a proxy, a mis-set endpoint or a provider bug must not turn into
a session. Each refusal says what was wrong, in words an administrator can act on.
"""

from __future__ import annotations

import hmac
from typing import Any

import jwt
from allauth.socialaccount.providers.oauth2.client import OAuth2Error

# Asymmetric algorithms only: an HMAC-signed token would be checked with the client secret, which the
# portal shares with the provider, and "none" signs nothing.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_TOKEN_CHARS = 16 * 1024
LEEWAY_SECONDS = 60  # clocks of the provider and the portal may differ this much
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat"]


class IDTokenRejected(OAuth2Error):
    """A token or provider answer Portico refuses; the message is shown on the sign-in error page."""


def _signing_key(jwks: Any, kid: str | None, alg: str) -> Any:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise IDTokenRejected("the provider's key set (jwks_uri) has no keys")
    candidates = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    if len(candidates) != 1:
        raise IDTokenRejected(f"the ID token's signing key (kid {kid!r}) is not among the provider's keys")
    jwk = candidates[0]
    if jwk.get("alg", alg) != alg:
        raise IDTokenRejected(f"the ID token says {alg} but its key is for {jwk.get('alg')}")
    try:
        return jwt.PyJWK(jwk, algorithm=alg).key
    except jwt.PyJWTError as exc:
        raise IDTokenRejected(f"the provider's signing key is unusable: {exc}") from None


def verify_id_token(
    token: str, *, jwks: Any, issuer: str, client_id: str, nonce: str | None
) -> dict[str, Any]:
    """The claims of ``token`` once signature, issuer, audience, expiry and nonce are all right."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise IDTokenRejected("the ID token is missing or too large")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise IDTokenRejected("the ID token is not a signed JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise IDTokenRejected(f"the ID token is signed with {alg!r}, which Portico does not accept")
    key = _signing_key(jwks, header.get("kid"), alg)
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidSignatureError:
        raise IDTokenRejected("the ID token's signature does not match the provider's keys") from None
    except jwt.ExpiredSignatureError:
        raise IDTokenRejected("the ID token has expired") from None
    except jwt.InvalidAudienceError:
        raise IDTokenRejected("the ID token was issued for another application (audience)") from None
    except jwt.InvalidIssuerError:
        raise IDTokenRejected("the ID token was issued by another issuer") from None
    except jwt.ImmatureSignatureError:
        raise IDTokenRejected("the ID token is not valid yet (issued in the future)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise IDTokenRejected(f"the ID token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise IDTokenRejected(f"the ID token is not valid: {exc}") from None
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise IDTokenRejected("the ID token names several audiences but not Portico as its authorized party")
    got = claims.get("nonce")
    if not nonce or not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise IDTokenRejected("the ID token's nonce does not belong to this sign-in (replayed or forged)")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise IDTokenRejected("the ID token's subject (sub) is empty")
    return claims
