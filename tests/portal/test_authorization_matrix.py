"""Who may do what, as one matrix: role × action × ownership → outcome.

Roles: anonymous, no role, requester, approver, approver scoped to PLAT, admin (superuser). Ownership: the
object is the actor's own, someone else's on PLAT (owen's), or someone else's on DATA (olga's, outside
the scoped approver's cost centers). Outcomes are read from the response *and* the database:

- ``ok``: done (a request, a decision, a replay was recorded),
- ``refused``: answered (a redirect with a message, a form error) but nothing was done,
- ``403``: the role does not allow it; ``404``: the object is not theirs to see (or a day-2 flow asked
  for outside its resource); ``login``: sent to the login page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from orchestrator.state.models import Execution, State
from portal.accounts.models import CostCenter, User
from portal.accounts.roles import APPROVERS, REQUESTERS, ensure_roles
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests.models import RequestComment, RequestExecution, RequestState, ResourceRequest
from portal.resources.models import Resource, ResourceAction

pytestmark = pytest.mark.django_db

BOX_FLOW = """\
id: box
namespace: portico.tests
description: Makes a box (a resource) after approval.
labels:
  portico.resource: test-box
  portico.actions.extend: box-extend
inputs:
  - id: name
    type: STRING
    validator: "^[a-z][a-z0-9-]{1,30}$"
tasks:
  - id: make
    type: io.kestra.plugin.core.log.Log
    message: "box {{ inputs.name }}"
"""

BOX_EXTEND_FLOW = """\
id: box-extend
namespace: portico.tests
description: A day-2 action on a box.
labels:
  portico.resource-action: extend
inputs:
  - id: resource_id
    type: INT
  - id: days
    type: SELECT
    values: ["1", "7"]
    defaults: "7"
tasks:
  - id: extend
    type: io.kestra.plugin.core.output.OutputValues
    values:
      days: "{{ inputs.days }}"
"""

BOX_DESTROY_FLOW = """\
id: box-destroy
namespace: portico.tests
description: Destroys a box.
labels:
  portico.resource-action: destroy
inputs:
  - id: resource_id
    type: INT
tasks:
  - id: destroy
    type: io.kestra.plugin.core.log.Log
    message: "destroy {{ inputs.resource_id }}"
"""

ROLES = ("anonymous", "no-role", "requester", "approver", "scoped-approver", "admin")
OWNERS = ("own", "other", "foreign")

# action → role → outcome, or action → role → {ownership → outcome}.
EXPECTED: dict[str, dict[str, Any]] = {
    "open form": {
        "anonymous": "login",
        "no-role": "403",
        "requester": "200",
        "approver": "403",
        "scoped-approver": "403",
        "admin": "200",
    },
    "submit": {
        "anonymous": "login",
        "no-role": "403",
        "requester": "ok",
        "approver": "403",
        "scoped-approver": "403",
        "admin": "ok",
    },
    "submit on foreign cost center": {
        "anonymous": "login",
        "no-role": "403",
        "requester": "refused",
        "approver": "403",
        "scoped-approver": "403",
        "admin": "ok",
    },
    "day-2 form via /flows/": {
        "anonymous": "login",
        "no-role": "403",
        "requester": "404",
        "approver": "403",
        "scoped-approver": "403",
        "admin": "404",
    },
    "day-2 via /flows/": {
        "anonymous": "login",
        "no-role": "403",
        "requester": {"own": "404", "other": "404", "foreign": "404"},
        "approver": "403",
        "scoped-approver": "403",
        "admin": {"own": "404", "other": "404", "foreign": "404"},
    },
    "day-2 via resource page": {
        "anonymous": "login",
        "no-role": "refused",
        "requester": {"own": "ok", "other": "404", "foreign": "404"},
        "approver": "refused",  # deciding is not requesting: approvers without the requester role
        "scoped-approver": "refused",
        "admin": "ok",
    },
    "view request": {
        "anonymous": "login",
        "no-role": {"own": "200", "other": "404", "foreign": "404"},
        "requester": {"own": "200", "other": "404", "foreign": "404"},
        "approver": "200",
        "scoped-approver": {"own": "200", "other": "200", "foreign": "404"},
        "admin": "200",
    },
    "decide": {
        "anonymous": "login",
        "no-role": "403",
        "requester": "403",
        "approver": {"own": "refused", "other": "ok", "foreign": "ok"},
        "scoped-approver": {"own": "refused", "other": "ok", "foreign": "403"},
        "admin": {"own": "refused", "other": "ok", "foreign": "ok"},
    },
    "restart": {
        "anonymous": "login",
        "no-role": {"own": "403", "other": "404", "foreign": "404"},
        "requester": {"own": "403", "other": "404", "foreign": "404"},
        "approver": {"own": "403", "other": "ok", "foreign": "ok"},
        "scoped-approver": {"own": "403", "other": "ok", "foreign": "404"},
        "admin": {"own": "403", "other": "ok", "foreign": "ok"},
    },
    "replay": {
        "anonymous": "login",
        "no-role": {"own": "403", "other": "404", "foreign": "404"},
        "requester": {"own": "403", "other": "404", "foreign": "404"},
        "approver": {"own": "403", "other": "ok", "foreign": "ok"},
        "scoped-approver": {"own": "403", "other": "ok", "foreign": "404"},
        "admin": {"own": "403", "other": "ok", "foreign": "ok"},
    },
}
# Self-service: only the requester cancels (403 for others who see it) or resubmits (with the requester
# role); whoever sees a request may comment on it.
EXPECTED["cancel"] = {
    "anonymous": "login",
    "no-role": {"own": "ok", "other": "404", "foreign": "404"},
    "requester": {"own": "ok", "other": "404", "foreign": "404"},
    "approver": {"own": "ok", "other": "403", "foreign": "403"},
    "scoped-approver": {"own": "ok", "other": "403", "foreign": "404"},
    "admin": {"own": "ok", "other": "403", "foreign": "403"},
}
EXPECTED["comment"] = {
    "anonymous": "login",
    "no-role": {"own": "ok", "other": "404", "foreign": "404"},
    "requester": {"own": "ok", "other": "404", "foreign": "404"},
    "approver": "ok",
    "scoped-approver": {"own": "ok", "other": "ok", "foreign": "404"},
    "admin": "ok",
}
EXPECTED["resubmit"] = {
    "anonymous": "login",
    "no-role": {"own": "403", "other": "404", "foreign": "404"},
    "requester": {"own": "ok", "other": "404", "foreign": "404"},
    "approver": "403",
    "scoped-approver": {"own": "403", "other": "403", "foreign": "404"},
    "admin": {"own": "ok", "other": "403", "foreign": "403"},
}
# Issue 13's deliberate actions and live pages. The request page's live fragment follows the page's rule.
# Destroy first answers a page naming what will be lost ("200"; nothing is requested yet), in the order of
# "day-2 via resource page"; Kill first answers a page naming the tasks it stops ("200"; nothing is killed
# yet) to whoever may kill (the owner, operators), 403 to others who see it, 404 to the rest.
EXPECTED["live request fragment"] = EXPECTED["view request"]
EXPECTED["destroy confirmation"] = {
    "anonymous": "login",
    "no-role": "refused",
    "requester": {"own": "200", "other": "404", "foreign": "404"},
    "approver": "refused",
    "scoped-approver": "refused",
    "admin": "200",
}
EXPECTED["kill confirmation"] = {
    "anonymous": "login",
    "no-role": {"own": "200", "other": "404", "foreign": "404"},
    "requester": {"own": "200", "other": "404", "foreign": "404"},
    "approver": "200",
    "scoped-approver": {"own": "200", "other": "200", "foreign": "404"},
    "admin": "200",
}
# The views of an execution and a resource follow the request's rule exactly.
# Bulk decisions from the queue: each ticked request goes through the same service as "decide"; one it
# may not decide is reported on the queue (a redirect with a message), never a 403 or 404 that would
# undo the others — and it is worded the same whether it exists or not.
EXPECTED["bulk decide"] = {
    "anonymous": "login",
    "no-role": "403",
    "requester": "403",
    "approver": {"own": "refused", "other": "ok", "foreign": "ok"},
    "scoped-approver": {"own": "refused", "other": "ok", "foreign": "refused"},
    "admin": {"own": "refused", "other": "ok", "foreign": "ok"},
}
EXPECTED["view execution"] = EXPECTED["view request"]
EXPECTED["view resource"] = EXPECTED["view request"]
OWNERLESS = {"open form", "submit", "submit on foreign cost center", "day-2 form via /flows/"}


def _cases() -> list[Any]:
    cases = []
    for action, by_role in EXPECTED.items():
        for role in ROLES:
            outcome = by_role[role]
            for owner in ("-",) if action in OWNERLESS else OWNERS:
                if role == "anonymous" and owner == "own":
                    continue  # nothing belongs to nobody
                expected = outcome[owner] if isinstance(outcome, dict) else outcome
                cases.append(pytest.param(role, action, owner, expected, id=f"{role}-{action}-{owner}"))
    return cases


CASES = _cases()


def make_user(
    username: str, groups: tuple[str, ...] = (), cost_center: CostCenter | None = None, **extra: Any
) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", **extra)
    user.groups.add(*Group.objects.filter(name__in=groups))
    if cost_center is not None:
        cost_center.members.add(user)
    return user


@pytest.fixture
def world(tmp_path: Path, settings: Any) -> dict[str, Any]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ensure_roles()
    plat = CostCenter.objects.create(code="PLAT-001", name="Platform")
    data = CostCenter.objects.create(code="DATA-002", name="Data")
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "box.yml").write_text(BOX_FLOW)
    (directory / "box-extend.yml").write_text(BOX_EXTEND_FLOW)
    (directory / "box-destroy.yml").write_text(BOX_DESTROY_FLOW)
    assert sync_flows(directory).ok
    actors = {
        "anonymous": None,
        "no-role": make_user("nora", (), plat),
        "requester": make_user("alice", (REQUESTERS,), plat),
        "approver": make_user("charlie", (APPROVERS,), plat),
        "scoped-approver": make_user("sam", (APPROVERS,), plat),
        "admin": User.objects.create_superuser("root", "root@example.com", "pw"),
    }
    plat.approvers.add(actors["scoped-approver"])
    return {
        "plat": plat,
        "data": data,
        "actors": actors,
        "owen": make_user("owen", (REQUESTERS,), plat),
        "olga": make_user("olga", (REQUESTERS,), data),
        "box": CatalogFlow.objects.get(flow_id="box"),
        "extend": CatalogFlow.objects.get(flow_id="box-extend"),
    }


def _objects(world: dict[str, Any], owner: User, cost_center: CostCenter) -> dict[str, Any]:
    """A pending request, a finished (failed) request with its execution, and the resource it made."""
    box = world["box"]
    pending = ResourceRequest.objects.create(
        requester=owner,
        catalog_flow=box,
        flow_revision=box.revision,
        flow_source=box.source,
        inputs={"name": f"p-{owner.username}"},
        cost_center=cost_center,
    )
    execution = Execution.objects.create(
        namespace=box.namespace,
        flow_id=box.flow_id,
        flow_revision=box.revision,
        flow_source=box.source,
        inputs={"name": f"m-{owner.username}"},
        state=State.FAILED,
    )
    made = ResourceRequest.objects.create(
        requester=owner,
        catalog_flow=box,
        flow_revision=box.revision,
        flow_source=box.source,
        inputs={"name": f"m-{owner.username}"},
        cost_center=cost_center,
        state=RequestState.FAILED,
        execution=execution,
    )
    RequestExecution.objects.create(request=made, execution=execution)
    resource = Resource.objects.create(
        kind="test-box",
        name=f"m-{owner.username}",
        owner=owner,
        cost_center=cost_center,
        request=made,
        namespace=box.namespace,
        actions={"extend": "box-extend", "destroy": "box-destroy"},
    )
    return {"pending": pending, "request": made, "execution": execution, "resource": resource}


def _target(world: dict[str, Any], actor: User | None, owner: str) -> dict[str, Any]:
    if owner == "own":
        return _objects(world, actor, world["plat"])
    if owner == "other":
        return _objects(world, world["owen"], world["plat"])
    return _objects(world, world["olga"], world["data"])


def _status(response: Any) -> str:
    if response.status_code == 302 and reverse("account_login") in response["Location"]:
        return "login"
    return str(response.status_code)


def _do(client: Any, world: dict[str, Any], actor: User | None, action: str, owner: str) -> str:
    """Perform ``action`` through the web as ``actor``; return the observed outcome."""
    form_url = reverse("requests:new", args=["portico.tests", "box"])
    day2_url = reverse("requests:new", args=["portico.tests", "box-extend"])
    requests_before = ResourceRequest.objects.count()
    if action == "open form":
        return _status(client.get(form_url))
    if action in ("submit", "submit on foreign cost center"):
        cost_center = world["plat"] if action == "submit" else world["data"]
        response = client.post(form_url, {"name": "fresh-box", "cost_center": cost_center.pk})
        created = ResourceRequest.objects.count() > requests_before
        return "ok" if created else ("refused" if response.status_code == 400 else _status(response))
    if action == "day-2 form via /flows/":
        return _status(client.get(day2_url))
    objects = _target(world, actor, owner)
    requests_before = ResourceRequest.objects.count()
    if action == "day-2 via /flows/":
        response = client.post(day2_url, {"resource_id": objects["resource"].pk, "days": "7"})
        assert ResourceRequest.objects.count() == requests_before
        return _status(response)
    if action == "day-2 via resource page":
        url = reverse("resources:action", args=[objects["resource"].pk, "extend"])
        response = client.post(url, {"days": "7"})
        made = ResourceAction.objects.filter(resource=objects["resource"]).exists()
        return (
            "ok"
            if made
            else (
                "refused"
                if response.status_code == 302 and _status(response) != "login"
                else _status(response)
            )
        )
    if action.startswith("view "):
        kind = action.removeprefix("view ")
        names = {
            "request": "requests:detail",
            "execution": "executions:detail",
            "resource": "resources:detail",
        }
        return _status(client.get(reverse(names[kind], args=[objects[kind].pk])))
    if action == "decide":
        pending = objects["pending"]
        response = client.post(reverse("approvals:decide", args=[pending.pk]), {"decision": "approve"})
        pending.refresh_from_db()
        if pending.state != RequestState.PENDING_APPROVAL:
            return "ok"
        return (
            "refused" if response.status_code == 302 and _status(response) != "login" else _status(response)
        )
    if action == "bulk decide":
        pending = objects["pending"]
        data = {"decision": "approve", "requests": [pending.pk]}
        response = client.post(reverse("approvals:bulk_decide"), data)
        pending.refresh_from_db()
        if pending.state != RequestState.PENDING_APPROVAL:
            return "ok"
        return (
            "refused" if response.status_code == 302 and _status(response) != "login" else _status(response)
        )
    if action == "cancel":
        pending = objects["pending"]
        response = client.post(reverse("requests:cancel", args=[pending.pk]))
        pending.refresh_from_db()
        return "ok" if pending.state == RequestState.CANCELLED else _status(response)
    if action == "comment":
        response = client.post(reverse("requests:comments", args=[objects["pending"].pk]), {"text": "hello"})
        return (
            "ok" if RequestComment.objects.filter(request=objects["pending"]).exists() else _status(response)
        )
    if action == "resubmit":
        made = objects["request"]
        data = {"name": "again-box", "cost_center": made.cost_center_id}
        response = client.post(reverse("requests:resubmit", args=[made.pk]), data)
        return "ok" if ResourceRequest.objects.filter(resubmitted_from=made).exists() else _status(response)
    if action == "live request fragment":
        return _status(client.get(reverse("requests:live", args=[objects["request"].pk])))
    if action == "destroy confirmation":
        response = client.post(reverse("resources:action", args=[objects["resource"].pk, "destroy"]))
        assert ResourceRequest.objects.count() == requests_before  # asking first requests nothing
        refused = response.status_code == 302 and _status(response) != "login"
        return "refused" if refused else _status(response)
    if action == "kill confirmation":
        Execution.objects.filter(pk=objects["execution"].pk).update(state=State.RUNNING)
        response = client.post(reverse("executions:kill", args=[objects["execution"].pk]))
        assert Execution.objects.get(pk=objects["execution"].pk).state == State.RUNNING  # nothing killed
        return _status(response)
    execution = objects["execution"]
    response = client.post(reverse(f"executions:{action}", args=[execution.pk]))
    if response.status_code == 302 and _status(response) != "login":
        replayed = Execution.objects.filter(original=execution).exists()
        return "ok" if action == "restart" or replayed else "refused"
    return _status(response)


@pytest.mark.parametrize(("role", "action", "owner", "expected"), CASES)
def test_the_authorization_matrix(
    client: Any, world: dict[str, Any], role: str, action: str, owner: str, expected: str
) -> None:
    actor = world["actors"][role]
    if actor is not None:
        client.force_login(actor)

    assert _do(client, world, actor, action, owner) == expected


def test_the_matrix_covers_every_role_and_action() -> None:
    assert {case.values[0] for case in CASES} == set(ROLES)
    assert {case.values[1] for case in CASES} == set(EXPECTED)
    assert len(CASES) == 279


def test_an_owner_still_acts_on_their_resource_after_leaving_its_cost_center(
    client: Any, world: dict[str, Any]
) -> None:
    alice = world["actors"]["requester"]
    objects = _objects(world, alice, world["plat"])
    world["plat"].members.remove(alice)  # she may not charge PLAT for anything new...
    client.force_login(alice)

    refused = client.post(
        reverse("requests:new", args=["portico.tests", "box"]),
        {"name": "new-box", "cost_center": world["plat"].pk},
    )
    extend = client.post(reverse("resources:action", args=[objects["resource"].pk, "extend"]), {"days": "1"})

    assert refused.status_code == 400  # ...but what she owns stays hers to extend or destroy
    assert extend.status_code == 302 and ResourceAction.objects.filter(resource=objects["resource"]).exists()
