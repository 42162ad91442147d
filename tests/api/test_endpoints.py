"""Flows, executions and resources through the API, on the same services as the pages."""

from __future__ import annotations

from typing import Any

import pytest

from portal.accounts.roles import REQUESTERS
from portal.approvals.services import do_approve_request
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import submit_request
from portal.resources.models import Resource, ResourceState
from tests.api.conftest import NEEDS_APPROVAL, make_user


def _json(**body: Any) -> dict[str, Any]:
    return {"data": body, "content_type": "application/json"}


# --- flows -------------------------------------------------------------------------------------------


def test_it_validates_a_flow_source_with_lines_and_fields(alice, bearer):
    client = bearer(alice, verbs=["read"])
    good = client.post("/api/v1/flows/validate", **_json(source=NEEDS_APPROVAL)).json()
    assert good["valid"] is True and (good["namespace"], good["id"]) == ("team-a.infra", "vm"), good
    bad = client.post("/api/v1/flows/validate", **_json(source="id: a\nnamespace: n\ntasks: 3\n")).json()
    assert bad["valid"] is False
    assert [(e["line"], e["path"]) for e in bad["errors"]][0][0] == 3
    # a control character YAML refuses is a problem of the flow, not a crash
    control = client.post("/api/v1/flows/validate", **_json(source="id: \x81a\n"))
    assert control.status_code == 200 and control.json()["valid"] is False


def test_it_validates_inputs_as_a_submission_would(alice, catalog, bearer):
    client = bearer(alice, verbs=["read"])
    ok = client.post("/api/v1/flows/team-a.infra/vm/validate", **_json(inputs={"name": "web-1"})).json()
    assert ok == {"valid": True, "fields": {}}
    bad = client.post(
        "/api/v1/flows/team-a.infra/vm/validate", **_json(inputs={"name": "X", "nope": 1})
    ).json()
    assert bad["valid"] is False and set(bad["fields"]) == {"name", "nope"}


def test_secret_inputs_never_come_back(alice, catalog, bearer):
    client = bearer(alice)
    made = client.post(
        "/api/v1/requests", **_json(flow="team-a.infra.vm", inputs={"name": "web-1", "password": "hunter22"})
    )
    assert made.status_code == 201
    assert "hunter22" not in made.content.decode()
    assert "hunter22" not in client.get(f"/api/v1/requests/{made.json()['id']}").content.decode()


# --- executions --------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_execution_is_read_followed_and_operated_as_on_its_page(
    celery_worker, alice, bob, catalog, plat, bearer
):
    request = submit_request(
        requester=alice, catalog_flow=catalog["vm"], data={"name": "web-1"}, cost_center=plat
    )
    do_approve_request(request.pk, acting_user=bob)
    request.refresh_from_db()
    owner, operator = bearer(alice), bearer(bob)
    execution_id = str(request.execution_id)

    followed = owner.get(
        f"/api/v1/executions/{execution_id}/follow", {"state": "CREATED", "timeout": 20}
    ).json()
    assert followed["id"] == execution_id
    ended = followed
    for _ in range(50):
        if ended["terminal"]:
            break
        ended = owner.get(
            f"/api/v1/executions/{execution_id}/follow", {"state": ended["state"], "timeout": 5}
        ).json()
    assert ended["state"] == "SUCCESS" and ended["request_id"] == request.pk
    assert [run["task_id"] for run in ended["task_runs"]] == ["hello", "done"]

    first = owner.get(f"/api/v1/executions/{execution_id}/logs").json()
    assert first["terminal"] is True
    messages = [line["message"] for line in first["items"]]
    assert any("Provisioning web-1" in m for m in messages)
    after = owner.get(f"/api/v1/executions/{execution_id}/logs", {"after": first["cursor"]}).json()
    assert after["items"] == [] and after["cursor"] == first["cursor"]
    only_done = owner.get(f"/api/v1/executions/{execution_id}/logs", {"task": "done"}).json()["items"]
    assert only_done and all(line["task_id"] == "done" for line in only_done)

    # replay: operators only, never on their own request (executions.services)
    assert owner.post(f"/api/v1/executions/{execution_id}/replay", **_json()).status_code == 403
    bad_task = operator.post(f"/api/v1/executions/{execution_id}/replay", **_json(from_task_id="nope"))
    assert bad_task.status_code == 422 and "from_task_id" in bad_task.json()["error"]["fields"]
    replayed = operator.post(f"/api/v1/executions/{execution_id}/replay", **_json(from_task_id="done"))
    assert replayed.status_code == 201 and replayed.json()["original_id"] == execution_id
    # a token without "operate" may read but not act
    assert bearer(bob, verbs=["read"]).post(f"/api/v1/executions/{execution_id}/kill").status_code == 403
    # someone who may not see it: 404, as for an execution that does not exist
    assert (
        bearer(make_user("mallory", [REQUESTERS])).get(f"/api/v1/executions/{execution_id}").status_code
        == 404
    )


# --- resources ---------------------------------------------------------------------------------------


@pytest.fixture
def server(alice, catalog, plat) -> Resource:
    request = submit_request(
        requester=alice, catalog_flow=catalog["vm"], data={"name": "web-1"}, cost_center=plat
    )
    ResourceRequest.objects.filter(pk=request.pk).update(state=RequestState.SUCCEEDED)
    return Resource.objects.create(
        kind="hcloud-server", name="web-1", owner=alice, cost_center=plat, request=request,
        namespace="team-a.infra", state=ResourceState.RUNNING, actions={},
    )  # fmt: skip


def test_resources_are_listed_and_got_as_their_owner_sees_them(server, alice, mallory, bearer):
    mine = bearer(alice).get("/api/v1/resources").json()
    assert [r["name"] for r in mine["items"]] == ["web-1"]
    assert bearer(alice).get(f"/api/v1/resources/{server.pk}").json()["owner"] == "alice"
    assert bearer(mallory).get(f"/api/v1/resources/{server.pk}").status_code == 404
    assert bearer(mallory).get("/api/v1/resources").json()["count"] == 0
    assert bearer(alice, namespaces=["team-b"]).get(f"/api/v1/resources/{server.pk}").status_code == 404


def test_a_day_two_action_the_resource_does_not_offer_is_a_conflict(server, alice, mallory, bearer):
    r = bearer(alice).post(f"/api/v1/resources/{server.pk}/actions/destroy", **_json())
    assert r.status_code == 409 and "destroy" in r.json()["error"]["message"]
    assert (
        bearer(mallory).post(f"/api/v1/resources/{server.pk}/actions/destroy", **_json()).status_code == 404
    )
    assert (
        bearer(alice, verbs=["read"])
        .post(f"/api/v1/resources/{server.pk}/actions/destroy", **_json())
        .status_code
        == 403
    )
