"""Personal API tokens: hashed at rest, shown once, expiring, revocable, audited; the session works too
(with CSRF); every error has the one body."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.api import tokens
from portal.api.models import ApiToken
from portal.audit.models import AuditEvent
from portal.catalog.models import CatalogFlow

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"  # the session the pages' login makes


def test_it_stores_only_a_digest_and_shows_the_token_once(alice, catalog):
    session = Client()
    session.force_login(alice, backend=MODEL_BACKEND)
    r = session.post(
        "/api/v1/tokens",
        {"name": "laptop", "namespaces": ["team-a.*"], "verbs": ["read", "request"], "expires_in_days": 7},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    plain = r.json()["token"]
    row = ApiToken.objects.get(pk=r.json()["id"])
    assert row.digest == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in str(ApiToken.objects.filter(pk=row.pk).values().get())
    assert plain.startswith(row.prefix + "_")
    listed = session.get("/api/v1/tokens").json()["items"]
    assert [t["prefix"] for t in listed] == [row.prefix] and "token" not in listed[0]
    created = AuditEvent.objects.get(verb="api_token.created")
    assert created.actor == alice and created.details["namespaces"] == ["team-a.*"]
    assert plain not in str(created.details)


def test_it_refuses_a_token_minted_with_a_token(alice, bearer):
    client = bearer(alice)
    r = client.post("/api/v1/tokens", {"name": "x"}, content_type="application/json")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"


def test_it_needs_csrf_for_a_session_write_but_not_for_a_read(alice, catalog):
    session = Client(enforce_csrf_checks=True)
    session.force_login(alice, backend=MODEL_BACKEND)
    assert session.get("/api/v1/flows").status_code == 200
    r = session.post(
        "/api/v1/requests",
        {"flow": "team-a.infra.vm", "inputs": {"name": "web-1"}},
        content_type="application/json",
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    session.get("/")  # a page of the UI: it sets the CSRF cookie the pages' scripts send back
    token = session.cookies["csrftoken"].value
    r = session.post(
        "/api/v1/requests",
        {"flow": "team-a.infra.vm", "inputs": {"name": "web-1"}},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert r.status_code == 201, r.content


def test_it_refuses_expired_and_revoked_tokens_and_audits_the_attempt(alice, bearer):
    client = bearer(alice)
    assert client.get("/api/v1/me").json()["username"] == "alice"
    token = client.token.token
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and set(r.json()["error"]) == {"code", "message", "fields"}
    assert AuditEvent.objects.filter(verb="api_token.denied", details__why="expired").exists()

    other = bearer(alice)
    assert other.delete(f"/api/v1/tokens/{token.pk}").status_code == 403  # only itself
    assert other.delete(f"/api/v1/tokens/{other.token.token.pk}").status_code == 200
    assert AuditEvent.objects.filter(verb="api_token.revoked").count() == 1
    assert other.get("/api/v1/me").status_code == 401
    assert AuditEvent.objects.filter(verb="api_token.denied", details__why="revoked").exists()


def test_it_answers_401_for_garbage_and_for_nothing(db):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer nope"}, {"HTTP_AUTHORIZATION": "Basic eDp5"}):
        r = Client(**headers).get("/api/v1/flows")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("namespaces", "verbs", "field"),
    [([], ["read"], "namespaces"), (["team a"], ["read"], "namespaces"), (["*"], ["fly"], "verbs")],
)
def test_it_refuses_a_scope_it_cannot_grant(alice, namespaces, verbs, field):
    with pytest.raises(tokens.TokenInvalid) as caught:
        tokens.do_create_token(alice, name="x", namespaces=namespaces, verbs=verbs)
    assert field in caught.value.fields


@pytest.mark.parametrize(
    ("pattern", "namespace", "matches"),
    [
        ("*", "anything.at.all", True),
        ("team-a", "team-a", True),
        ("team-a", "team-a.infra", False),
        ("team-a.*", "team-a", True),
        ("team-a.*", "team-a.infra", True),
        ("team-a.*", "team-ab", False),
        ("team-a.*", "team-b", False),
    ],
)
def test_a_tokens_namespaces_narrow_lists_and_objects_alike(
    alice, catalog, bearer, pattern, namespace, matches
):
    CatalogFlow.objects.filter(flow_id="db").update(namespace=namespace)
    client = bearer(alice, namespaces=[pattern], verbs=["read"])
    listed = [f["namespace"] for f in client.get("/api/v1/flows").json()["items"] if f["id"] == "db"]
    assert listed == ([namespace] if matches else [])
    assert client.get(f"/api/v1/flows/{namespace}/db").status_code == (200 if matches else 404)
