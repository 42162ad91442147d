"""Token scope × verb × ownership → allowed or denied, through the real endpoints.

alice owns a request in team-a.infra (pending); mallory, another requester, does not see it (404, as
for nothing); bob approves. A token narrows its user: a verb it lacks is 403, a namespace outside it
404 — and neither is ever wider than the user's own rights.
"""

from __future__ import annotations

from typing import Any

import pytest

from portal.accounts.models import NamespaceGrant, NamespaceRole
from portal.audit.models import AuditEvent
from portal.requests.models import RequestState
from portal.requests.services import submit_request

from .conftest import make_user

ALL = ["read", "request", "approve", "operate"]
TEAM_A = ["team-a.*"]
TEAM_B = ["team-b"]


@pytest.fixture
def pending(alice: Any, catalog: Any, plat: Any) -> Any:
    return submit_request(
        requester=alice, catalog_flow=catalog["vm"], data={"name": "web-1"}, cost_center=plat
    )


def _json(**body: Any) -> dict[str, Any]:
    return {"data": body, "content_type": "application/json"}


TOKEN, USER = "token", "user"  # who refused: the token's scope (audited) or the user's own rights

# (who, namespaces, verbs, method, path template, body, expected status, refused by)
SUBMIT = {"flow": "team-a.infra.vm", "inputs": {"name": "web-2"}}
MATRIX = [
    # reading one's own request: read verb, namespace in scope
    ("alice", ["*"], ["read"], "get", "/api/v1/requests/{id}", None, 200, None),
    ("alice", TEAM_A, ["read"], "get", "/api/v1/requests/{id}", None, 200, None),
    ("alice", TEAM_B, ["read"], "get", "/api/v1/requests/{id}", None, 404, TOKEN),
    ("alice", ["*"], ["request"], "get", "/api/v1/requests/{id}", None, 403, TOKEN),
    # someone else's request: never seen, whatever the token says
    ("mallory", ["*"], ALL, "get", "/api/v1/requests/{id}", None, 404, USER),
    ("mallory", ["*"], ALL, "post", "/api/v1/requests/{id}/cancel", {}, 404, USER),
    ("mallory", ["*"], ALL, "post", "/api/v1/approvals/{id}/approve", {"comment": ""}, 404, USER),
    # the approver sees it; approving needs the approve verb and the namespace
    ("bob", ["*"], ["read"], "get", "/api/v1/requests/{id}", None, 200, None),
    (
        "bob",
        ["*"],
        ["read", "request"],
        "post",
        "/api/v1/approvals/{id}/approve",
        {"comment": ""},
        403,
        TOKEN,
    ),
    ("bob", TEAM_B, ["approve"], "post", "/api/v1/approvals/{id}/approve", {"comment": ""}, 404, TOKEN),
    ("bob", TEAM_A, ["approve"], "post", "/api/v1/approvals/{id}/reject", {"comment": "no"}, 200, None),
    # the requester cannot approve their own, even with every verb (the service's rule)
    ("alice", ["*"], ALL, "post", "/api/v1/approvals/{id}/approve", {"comment": ""}, 403, USER),
    # cancelling: the owner with the request verb; an approver who sees it is not the owner
    ("alice", TEAM_A, ["read"], "post", "/api/v1/requests/{id}/cancel", {}, 403, TOKEN),
    ("alice", TEAM_A, ["request"], "post", "/api/v1/requests/{id}/cancel", {}, 200, None),
    ("bob", ["*"], ALL, "post", "/api/v1/requests/{id}/cancel", {}, 403, USER),
    # submitting: the request verb in the flow's namespace, then the flow's own input rules
    ("alice", TEAM_A, ["request"], "post", "/api/v1/requests", SUBMIT, 201, None),
    ("alice", TEAM_B, ["request"], "post", "/api/v1/requests", SUBMIT, 404, TOKEN),
    ("alice", TEAM_A, ["read"], "post", "/api/v1/requests", SUBMIT, 403, TOKEN),
    (
        "alice",
        TEAM_A,
        ["request"],
        "post",
        "/api/v1/requests",
        {**SUBMIT, "inputs": {"name": "X"}},
        422,
        USER,
    ),
    ("mallory", ["*"], ALL, "post", "/api/v1/requests", {**SUBMIT, "cost_center": "NOPE"}, 422, USER),
    # the audit log: approvers only
    ("alice", ["*"], ["read"], "get", "/api/v1/audit", None, 403, USER),
    ("bob", ["*"], ["read"], "get", "/api/v1/audit", None, 200, None),
]


@pytest.mark.parametrize(
    ("who", "namespaces", "verbs", "method", "path", "body", "expected", "refused_by"),
    MATRIX,
    ids=[f"{m[0]}-{'+'.join(m[1])}-{'+'.join(m[2])}-{m[3]}-{m[4]}-{m[6]}" for m in MATRIX],
)
def test_scope_verb_and_ownership(
    request, pending, bob, mallory, bearer, who, namespaces, verbs, method, path, body, expected, refused_by
):
    user = request.getfixturevalue(who)
    client = bearer(user, namespaces=namespaces, verbs=verbs)
    call = getattr(client, method)
    url = path.format(id=pending.pk)
    response = call(url, **_json(**body)) if body is not None else call(url)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"error"}
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    denied = AuditEvent.objects.filter(verb="api_token.denied", actor=user)
    assert denied.exists() is (refused_by == TOKEN)


def test_lists_show_only_the_tokens_namespaces(pending, alice, catalog, plat, bearer):
    submit_request(requester=alice, catalog_flow=catalog["db"], data={"name": "d1"}, cost_center=plat)
    everything = bearer(alice).get("/api/v1/requests").json()
    assert {r["namespace"] for r in everything["items"]} == {"team-a.infra", "team-b"}
    team_b = bearer(alice, namespaces=TEAM_B).get("/api/v1/requests").json()
    assert [r["namespace"] for r in team_b["items"]] == ["team-b"]
    flows = bearer(alice, namespaces=TEAM_A).get("/api/v1/flows").json()
    assert [f"{f['namespace']}.{f['id']}" for f in flows["items"]] == ["team-a.infra.vm"]


def test_the_approval_queue_is_the_services(pending, bob, mallory, bearer):
    assert [r["id"] for r in bearer(bob).get("/api/v1/approvals/pending").json()["items"]] == [pending.pk]
    assert bearer(mallory).get("/api/v1/approvals/pending").json()["count"] == 0
    r = bearer(bob).post(f"/api/v1/approvals/{pending.pk}/reject", **_json(comment="too big"))
    assert r.json()["state"] == RequestState.REJECTED
    again = bearer(bob).post(f"/api/v1/approvals/{pending.pk}/approve", **_json(comment=""))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_pages_are_bounded(alice, catalog, bearer):
    client = bearer(alice)
    assert client.get("/api/v1/flows", {"per_page": 1}).json()["next_page"] == 2
    refused = client.get("/api/v1/flows", {"per_page": 1000})
    assert refused.status_code == 400
    assert "per_page" in refused.json()["error"]["fields"]


def test_the_webhook_keeps_its_url_and_its_own_404(db):
    from django.test import Client

    r = Client().post("/api/v1/executions/webhook/nope/nope/nope", data="{}", content_type="application/json")
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}


def test_flows_follow_the_users_namespace_roles_not_only_the_tokens(catalog, plat, bearer):
    """A token allowing every namespace still shows only the flows of the namespaces where its user holds
    a role; a flow outside them answers 404, as on the catalog page."""
    bea = make_user("bea", [], plat)
    NamespaceGrant.objects.create(namespace_pattern="team-b", role=NamespaceRole.REQUESTER, user=bea)
    client = bearer(bea)
    listed = client.get("/api/v1/flows").json()
    assert [f"{f['namespace']}.{f['id']}" for f in listed["items"]] == ["team-b.db"]
    assert client.get("/api/v1/flows/team-a.infra/vm").status_code == 404
    assert client.get("/api/v1/flows/team-b/db").status_code == 200
