"""Test-only endpoints of the provider: set up users, and make the token endpoint misbehave on purpose.

``/_test/*`` answer only with the control token serve.py was started with. A *mode* rewrites the ID token
the real token endpoint issued, the way an attacker or a broken provider would: its payload edited without
re-signing, signed by a foreign key, or signed by the real key with a wrong audience, issuer, nonce or
expiry.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from jwcrypto import jwk, jwt
from oauth2_provider.views import TokenView

MODES = ("", "tamper", "foreign_key", "wrong_audience", "wrong_issuer", "expired", "wrong_nonce", "alg_none")
_state: dict[str, str] = {"mode": ""}
_REAL_KEY = jwk.JWK.from_pem(Path(os.environ["OIDC_TEST_KEY_FILE"]).read_bytes())
_FOREIGN_KEY = jwk.JWK.generate(kty="RSA", size=2048)


def _allowed(request: HttpRequest) -> bool:
    return request.method == "POST" and hmac.compare_digest(
        request.headers.get("X-Test-Control", ""), os.environ["OIDC_TEST_CONTROL_TOKEN"]
    )


@csrf_exempt
def set_user(request: HttpRequest) -> HttpResponse:
    """Create or update a user: {"username", "password", "email", "groups": [...]}."""
    if not _allowed(request):
        return HttpResponse(status=403)
    data = json.loads(request.body)
    user, _ = User.objects.get_or_create(username=data["username"])
    user.email = data.get("email", "")
    user.set_password(data["password"])
    user.save()
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in data.get("groups", [])])
    return JsonResponse({"sub": str(user.pk)})


@csrf_exempt
def set_mode(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse(status=403)
    mode = json.loads(request.body).get("mode", "")
    if mode not in MODES:
        return JsonResponse({"error": f"unknown mode {mode!r}"}, status=400)
    _state["mode"] = mode
    return JsonResponse({"mode": mode})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(header: dict[str, Any], claims: dict[str, Any], key: jwk.JWK) -> str:
    token = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
    token.make_signed_token(key)
    return token.serialize()


def mangle(id_token: str, mode: str) -> str:
    header_b64, payload_b64, signature = id_token.split(".")
    header = json.loads(_unb64(header_b64))
    claims = json.loads(_unb64(payload_b64))
    now = int(time.time())
    if mode == "tamper":  # the attacker grants themselves a group; the signature stays the original one
        claims["groups"] = [*claims.get("groups", []), "portico-approvers"]
        return ".".join([header_b64, _b64(json.dumps(claims).encode()), signature])
    if mode == "alg_none":
        return ".".join([_b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()), payload_b64, ""])
    if mode == "foreign_key":  # same kid, someone else's key
        return _sign(header, claims, _FOREIGN_KEY)
    if mode == "wrong_audience":
        claims["aud"] = "some-other-application"
    elif mode == "wrong_issuer":
        claims["iss"] = "https://issuer.invalid"
    elif mode == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
    elif mode == "wrong_nonce":
        claims["nonce"] = "a-nonce-from-another-sign-in"
    return _sign(header, claims, _REAL_KEY)


class MisbehavingTokenView(TokenView):
    """django-oauth-toolkit's token endpoint, whose ID token the current mode rewrites."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        mode = _state["mode"]
        if mode and response.status_code == 200:
            body = json.loads(response.content)
            body["id_token"] = mangle(body["id_token"], mode)
            response.content = json.dumps(body).encode()
        return response
