"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit in a child process).

The portal does the whole flow for real: discovery, the redirect with state, nonce and PKCE, the browser's
sign-in at the provider (played with ``requests``), the code exchange over HTTP, and the RS256 ID token
checked against the provider's JWKS. Roles come from the provider's ``groups`` claim.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group
from django.test import Client

from portal.accounts.models import User
from portal.accounts.roles import APPROVERS, REQUESTERS, is_approver, is_requester
from portal.accounts.sso import config as sso_config
from portal.audit.models import AuditEvent
from tests.oidc_provider.harness import OIDCProvider, browser_sign_in, start_provider

pytestmark = pytest.mark.django_db
PROVIDER_ID = "testidp"
PORTAL = "http://testserver"
CALLBACK = f"{PORTAL}/accounts/oidc/{PROVIDER_ID}/login/callback/"
ROLE_MAP = {"portico-requesters": [REQUESTERS], "portico-approvers": [APPROVERS, REQUESTERS]}
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    idp = start_provider(tmp_path_factory.mktemp("oidc-provider"), redirect_uris=[CALLBACK])
    yield idp
    idp.stop()


def _portal_settings(provider: OIDCProvider, **overrides: Any) -> dict[str, Any]:
    entry = {
        "id": PROVIDER_ID,
        "name": "Test IdP",
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        "scope": ["openid", "profile", "email", "groups"],
        **overrides,
    }
    providers = sso_config.parse_providers(json.dumps([entry]))
    return {
        "SOCIALACCOUNT_PROVIDERS": sso_config.socialaccount_providers(
            providers, default_groups_claim="groups"
        )
    }


@pytest.fixture
def sso(settings: Any, provider: OIDCProvider) -> Iterator[OIDCProvider]:
    """The portal configured for the test provider, which hands out honest tokens unless a test says so."""
    for name, value in _portal_settings(provider).items():
        setattr(settings, name, value)
    settings.PORTICO_OIDC_ROLE_MAP = ROLE_MAP
    settings.PORTICO_OIDC_REQUIRE_ROLE = False
    settings.PORTICO_PASSWORD_LOGIN = True
    provider.set_mode("")
    yield provider
    provider.set_mode("")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sign_in(client: Client, provider: OIDCProvider, username: str, password: str = PASSWORD) -> Any:
    """Press "Sign in with Test IdP", sign in at the provider, come back; the portal's last response."""
    start = client.post(f"/accounts/oidc/{PROVIDER_ID}/login/")
    assert start.status_code == 302, start.content[:500]
    assert start["Location"].startswith(f"{provider.issuer}/authorize/")
    back = urlsplit(browser_sign_in(start["Location"], username, password, back_to=CALLBACK))
    return client.get(f"{back.path}?{back.query}")


def _logged_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def _audit(verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("pk"))


def test_it_sends_a_fresh_nonce_state_and_pkce_challenge_with_each_sign_in(
    sso: OIDCProvider, client: Client
) -> None:
    first = parse_qs(urlsplit(client.post(f"/accounts/oidc/{PROVIDER_ID}/login/")["Location"]).query)
    second = parse_qs(urlsplit(client.post(f"/accounts/oidc/{PROVIDER_ID}/login/")["Location"]).query)
    for params in (first, second):
        assert params["response_type"] == ["code"]
        assert params["code_challenge_method"] == ["S256"]
        assert set(params["scope"][0].split()) == {"openid", "profile", "email", "groups"}
        assert params["redirect_uri"] == [CALLBACK]
    assert first["nonce"] != second["nonce"] and len(first["nonce"][0]) >= 32
    assert first["state"] != second["state"]


def test_it_creates_the_user_with_the_roles_its_groups_map_to(sso: OIDCProvider, client: Client) -> None:
    username = _name("alice")
    sub = sso.set_user(
        username, PASSWORD, groups=["portico-requesters", "unmapped"], email=f"{username}@example.com"
    )

    response = sign_in(client, sso, username)

    assert response.status_code == 302 and response["Location"] == "/"
    user = _logged_in_user(client)
    assert user is not None and user.username == username and user.email == f"{username}@example.com"
    assert not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {REQUESTERS}
    assert is_requester(user) and not is_approver(user)
    assert SocialAccount.objects.get(user=user).uid == sub
    [login] = _audit("user.logged_in")
    assert login.actor == user
    [synced] = _audit("user.roles_synced")
    assert synced.target_id == str(user.pk) and synced.actor is None  # the provider's word, not the user's
    assert synced.details == {
        "method": "sso",
        "provider": PROVIDER_ID,
        "subject": sub,
        "groups_added": [REQUESTERS],
        "groups_removed": [],
    }
    assert client.get("/").status_code == 200


def test_it_removes_a_role_the_provider_took_away_at_the_next_login(sso: OIDCProvider) -> None:
    username = _name("bob")
    sso.set_user(username, PASSWORD, groups=["portico-approvers"], email=f"{username}@example.com")
    sign_in(Client(), sso, username)
    user = User.objects.get(username=username)
    assert is_approver(user) and is_requester(user)
    hand_given = Group.objects.create(name=_name("given-in-the-admin"))
    user.groups.add(hand_given)  # a group the role map never names is not the provider's to take

    sso.set_user(username, PASSWORD, groups=["portico-requesters"], email=f"{username}@example.com")
    client = Client()
    response = sign_in(client, sso, username)

    assert response.status_code == 302
    user = User.objects.get(pk=user.pk)  # fresh permission cache
    assert _logged_in_user(client) == user
    assert not is_approver(user) and is_requester(user)
    assert set(user.groups.values_list("name", flat=True)) == {REQUESTERS, hand_given.name}
    assert len(_audit("user.logged_in")) == 2
    first, second = _audit("user.roles_synced")
    assert first.details["groups_added"] == [APPROVERS, REQUESTERS]
    assert (second.details["groups_added"], second.details["groups_removed"]) == ([], [APPROVERS])
    assert User.objects.filter(username__startswith=username).count() == 1  # the same account, linked


def test_it_links_an_existing_local_account_by_verified_email_when_allowed(
    sso: OIDCProvider, settings: Any, client: Client
) -> None:
    for name, value in _portal_settings(sso, link_by_email=True).items():
        setattr(settings, name, value)
    username = _name("carol")
    local = User.objects.create_user(
        username=f"local-{username}", email=f"{username}@example.com", password=PASSWORD
    )
    sub = sso.set_user(username, PASSWORD, groups=["portico-approvers"], email=f"{username}@example.com")

    sign_in(client, sso, username)

    assert _logged_in_user(client) == local
    assert SocialAccount.objects.get(uid=sub).user == local
    assert is_approver(User.objects.get(pk=local.pk))


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("tamper", "signature does not match the provider's keys"),
        ("foreign_key", "signature does not match the provider's keys"),
        ("alg_none", "signed with 'none'"),
        ("wrong_audience", "issued for another application (audience)"),
        ("wrong_issuer", "issued by another issuer"),
        ("expired", "the ID token has expired"),
        ("wrong_nonce", "nonce does not belong to this sign-in"),
    ],
)
def test_it_refuses_a_bad_id_token_with_a_clear_message_and_no_session(
    sso: OIDCProvider, client: Client, mode: str, reason: str
) -> None:
    username = _name("mallory")
    sso.set_user(username, PASSWORD, groups=["portico-approvers"], email=f"{username}@example.com")
    sso.set_mode(mode)

    response = sign_in(client, sso, username)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Sign-in with Test IdP was refused" in page and reason in page.replace("&#x27;", "'")
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username=username).exists()
    assert not _audit("user.logged_in")
    [event] = _audit("user.login_refused")
    assert (
        event.actor is None and event.details["provider"] == PROVIDER_ID and reason in event.details["reason"]
    )


def test_it_refuses_a_callback_replayed_after_the_sign_in(sso: OIDCProvider, client: Client) -> None:
    username = _name("dave")
    sso.set_user(username, PASSWORD, groups=["portico-requesters"], email=f"{username}@example.com")
    start = client.post(f"/accounts/oidc/{PROVIDER_ID}/login/")
    back = urlsplit(browser_sign_in(start["Location"], username, PASSWORD, back_to=CALLBACK))
    assert client.get(f"{back.path}?{back.query}").status_code == 302

    attacker = Client()
    replay = attacker.get(f"{back.path}?{back.query}")

    assert replay.status_code == 400 and "_auth_user_id" not in attacker.session


def test_it_refuses_a_discovery_document_that_names_another_issuer(
    sso: OIDCProvider, settings: Any, client: Client
) -> None:
    # Same server under another name: its document says 127.0.0.1, not the issuer configured here.
    for name, value in _portal_settings(sso, issuer=sso.issuer.replace("127.0.0.1", "localhost")).items():
        setattr(settings, name, value)

    response = client.post(f"/accounts/oidc/{PROVIDER_ID}/login/")

    assert response.status_code == 400
    assert "names issuer" in response.content.decode().replace("&#x27;", "'")
    assert _audit("user.login_refused")[0].details["provider"] == PROVIDER_ID


def test_it_refuses_a_login_that_maps_to_no_role_when_one_is_required(
    sso: OIDCProvider, settings: Any
) -> None:
    username = _name("erin")
    sso.set_user(username, PASSWORD, groups=["portico-requesters"], email=f"{username}@example.com")
    sign_in(Client(), sso, username)
    settings.PORTICO_OIDC_REQUIRE_ROLE = True
    sso.set_user(username, PASSWORD, groups=["somewhere-else"], email=f"{username}@example.com")

    client = Client()
    response = sign_in(client, sso, username)

    assert response.status_code == 403
    assert "gives you no role in Portico" in response.content.decode()
    assert "_auth_user_id" not in client.session
    user = User.objects.get(username=username)
    assert not is_requester(user)  # the role went with the refusal, not at some later login
    [event] = _audit("user.login_refused")
    assert event.target_id == str(user.pk)
    assert (event.details["reason"], event.details["groups_removed"]) == ("no role", [REQUESTERS])


def test_it_shows_both_ways_in_and_leaves_a_password_login_s_groups_alone(
    sso: OIDCProvider, client: Client
) -> None:
    user = User.objects.create_user(username=_name("frank"), password=PASSWORD)
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' in page and "Sign in with Test IdP" in page

    response = client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})

    assert response.status_code == 302 and _logged_in_user(client) == user
    [event] = _audit("user.logged_in")
    assert event.actor == user and not _audit("user.roles_synced")


def test_it_turns_password_login_off(sso: OIDCProvider, settings: Any) -> None:
    settings.PORTICO_PASSWORD_LOGIN = False
    user = User.objects.create_superuser(username=_name("grace"), password=PASSWORD, email="")
    client = Client()

    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' not in page and "Sign in with Test IdP" in page

    refused = client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert refused.status_code == 200 and "Password sign-in is turned off" in refused.content.decode()
    admin = client.post("/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"})
    assert admin.status_code == 200  # the admin's form shown again, not a redirect into the admin
    assert "_auth_user_id" not in client.session
    assert not _audit("user.logged_in")
    assert (
        client.get("/accounts/signup/").status_code != 200
        or "closed" in client.get("/accounts/signup/").content.decode().lower()
    )

    username = _name("heidi")
    sso.set_user(username, PASSWORD, groups=["portico-requesters"], email=f"{username}@example.com")
    assert sign_in(client, sso, username).status_code == 302 and _logged_in_user(client) is not None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {
                "id": "x",
                "name": "X",
                "issuer": "http://idp.example.com",
                "client_id": "c",
                "client_secret": "s",
            },
            "issuer must be an https:// URL",
        ),
        (
            {"id": "x", "name": "X", "issuer": "https://idp.example.com", "client_id": "c"},
            "'client_secret' is required",
        ),
        (
            {"id": "X Y", "name": "X", "issuer": "https://i", "client_id": "c", "client_secret": "s"},
            "id must be",
        ),
        (
            {
                "id": "x",
                "name": "X",
                "issuer": "https://i",
                "client_id": "c",
                "client_secret": "s",
                "role_map": {},
            },
            "unknown keys ['role_map']",
        ),
        (
            {
                "id": "x",
                "name": "X",
                "issuer": "https://i",
                "client_id": "c",
                "client_secret": "s",
                "scope": ["email"],
            },
            "including 'openid'",
        ),
    ],
)
def test_it_refuses_a_provider_setting_at_start(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        sso_config.parse_providers(json.dumps([entry]))


def test_it_reads_a_role_map_and_refuses_a_malformed_one() -> None:
    assert sso_config.parse_role_map('{"admins": "approvers", "devs": ["requesters"]}') == {
        "admins": ["approvers"],
        "devs": ["requesters"],
    }
    with pytest.raises(ValueError, match="must be a group name or a list"):
        sso_config.parse_role_map('{"admins": 3}')


def test_the_provider_lives_in_its_own_process(provider: OIDCProvider) -> None:
    assert provider.process.poll() is None and Path(provider.log).exists()
