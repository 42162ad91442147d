"""Roles on namespaces, as one matrix: role × grant style × namespace of the object × action → outcome.

Each actor holds one role (``NamespaceGrant``) granted either to them on ``team-a`` exactly, or to a
group of theirs on ``team-a.*``. Objects (a flow, someone else's requests, execution, resource and audit
entries, the actor's own resource) live in ``team-a``, in ``team-a.db`` (under ``team-a``) or in
``team-b``; every actor may charge the cost center, so only the namespace decides. Outcomes are read
from responses and the database, through the real views and services:

- ``ok``: done; ``refused``: answered with a message, nothing done; ``listed``/``hidden``: on a list or
  not; ``200``; ``403``: the role does not allow it; ``404``: not theirs to see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse

from orchestrator.state.models import Execution, State
from portal.accounts import namespace_patterns, rules, visibility
from portal.accounts.models import CostCenter, NamespaceGrant, NamespaceRole, User
from portal.accounts.roles import APPROVERS, REQUESTERS, ensure_roles, is_approver, may_decide_on
from portal.audit import services as audit
from portal.audit.models import AuditEvent
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.notifications.services import approvers_of
from portal.requests.models import RequestExecution, RequestState, ResourceRequest
from portal.resources.models import Resource, ResourceAction

pytestmark = pytest.mark.django_db

BOX_FLOW = """\
id: box
namespace: {namespace}
labels:
  portico.resource: test-box
  portico.actions.extend: box-extend
inputs:
  - id: name
    type: STRING
    validator: "^[a-z][a-z0-9-]{{1,30}}$"
tasks:
  - id: make
    type: io.kestra.plugin.core.log.Log
    message: "box {{{{ inputs.name }}}}"
"""

BOX_EXTEND_FLOW = """\
id: box-extend
namespace: {namespace}
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
      days: "{{{{ inputs.days }}}}"
"""

# Explicit: force_login's default is the first backend with get_user, which need not be the one that logs in.
BACKEND = "django.contrib.auth.backends.ModelBackend"
NAMESPACES = {"exact": "team-a", "below": "team-a.db", "outside": "team-b"}
GRANTS = {"user on team-a": "team-a", "group on team-a.*": "team-a.*"}
ROLES = ("viewer", "requester", "approver", "operator", "admin")

# action → role → (outcome inside the grant, outcome outside it).
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "catalog lists flow": {r: ("listed", "hidden") for r in ROLES},
    "open form": {
        "viewer": ("403", "403"),
        "requester": ("200", "404"),
        "approver": ("403", "403"),
        "operator": ("403", "403"),
        "admin": ("200", "404"),
    },
    "submit": {
        "viewer": ("403", "403"),
        "requester": ("ok", "404"),
        "approver": ("403", "403"),
        "operator": ("403", "403"),
        "admin": ("ok", "404"),
    },
    "see request": {**{r: ("200", "404") for r in ROLES}, "requester": ("404", "404")},
    "see execution": {**{r: ("200", "404") for r in ROLES}, "requester": ("404", "404")},
    "see resource": {**{r: ("200", "404") for r in ROLES}, "requester": ("404", "404")},
    "approve": {
        "viewer": ("403", "403"),
        "requester": ("403", "403"),
        "approver": ("ok", "403"),
        "operator": ("403", "403"),
        "admin": ("ok", "403"),
    },
    "restart": {
        "viewer": ("403", "404"),
        "requester": ("404", "404"),
        "approver": ("403", "404"),
        "operator": ("ok", "404"),
        "admin": ("ok", "404"),
    },
    "kill confirmation": {
        "viewer": ("403", "404"),
        "requester": ("404", "404"),
        "approver": ("403", "404"),
        "operator": ("200", "404"),
        "admin": ("200", "404"),
    },
    "day-2 on others' resource": {
        "viewer": ("refused", "refused"),
        "requester": ("404", "404"),
        "approver": ("refused", "refused"),
        "operator": ("refused", "refused"),
        "admin": ("ok", "404"),
    },
    "day-2 on own resource": {
        "viewer": ("refused", "refused"),
        "requester": ("ok", "refused"),
        "approver": ("refused", "refused"),
        "operator": ("refused", "refused"),
        "admin": ("ok", "refused"),
    },
    "see audit entries": {**{r: ("listed", "hidden") for r in ROLES}, "requester": ("403", "403")},
}


def _inside(grant: str, where: str) -> bool:
    return namespace_patterns.matches(GRANTS[grant], NAMESPACES[where])


def _cases() -> list[Any]:
    cases = []
    for action, by_role in EXPECTED.items():
        for role in ROLES:
            for grant in GRANTS:
                for where in NAMESPACES:
                    expected = by_role[role][0 if _inside(grant, where) else 1]
                    case_id = f"{role}-{grant}-{where}-{action}"
                    cases.append(pytest.param(role, grant, where, action, expected, id=case_id))
    return cases


CASES = _cases()


@pytest.fixture
def world(tmp_path: Path, settings: Any) -> dict[str, Any]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ensure_roles()
    directory = tmp_path / "flows"
    directory.mkdir()
    for namespace in NAMESPACES.values():
        (directory / f"{namespace}-box.yml").write_text(BOX_FLOW.format(namespace=namespace))
        (directory / f"{namespace}-extend.yml").write_text(BOX_EXTEND_FLOW.format(namespace=namespace))
    assert sync_flows(directory).ok
    plat = CostCenter.objects.create(code="PLAT-001", name="Platform")
    # Owen requests everywhere (the historical requesters' group): the "someone else" of the matrix.
    owen = User.objects.create_user("owen", "owen@example.com", "pw")
    owen.groups.add(Group.objects.get(name=REQUESTERS))
    plat.members.add(owen)
    return {"plat": plat, "owen": owen}


def _actor(world: dict[str, Any], role: str, grant: str) -> User:
    user = User.objects.create_user(f"{role}-actor", f"{role}@example.com", "pw")
    world["plat"].members.add(user)
    if grant.startswith("group"):
        group = Group.objects.create(name=f"team-a-{role}s")
        user.groups.add(group)
        NamespaceGrant.objects.create(namespace_pattern=GRANTS[grant], role=role, group=group)
    else:
        NamespaceGrant.objects.create(namespace_pattern=GRANTS[grant], role=role, user=user)
    return user


def _objects(world: dict[str, Any], owner: User, namespace: str) -> dict[str, Any]:
    """A pending request, a failed request with its execution, the resource it made, an audit entry."""
    box = CatalogFlow.objects.get(namespace=namespace, flow_id="box")
    common = {
        "requester": owner,
        "catalog_flow": box,
        "flow_revision": box.revision,
        "flow_source": box.source,
    }
    tag = f"{owner.username}-{namespace.replace('.', '-')}"
    pending = ResourceRequest.objects.create(**common, inputs={"name": f"p-{tag}"}, cost_center=world["plat"])
    execution = Execution.objects.create(
        namespace=namespace,
        flow_id="box",
        flow_revision=box.revision,
        flow_source=box.source,
        inputs={"name": "m-box"},
        state=State.FAILED,
    )
    made = ResourceRequest.objects.create(
        **common,
        inputs={"name": f"m-{tag}"},
        cost_center=world["plat"],
        state=RequestState.FAILED,
        execution=execution,
    )
    RequestExecution.objects.create(request=made, execution=execution)
    resource = Resource.objects.create(
        kind="test-box",
        name=f"m-{tag}",
        owner=owner,
        cost_center=world["plat"],
        request=made,
        namespace=namespace,
        actions={"extend": "box-extend"},
    )
    event = audit.record(
        "test.happened",
        actor=owner,
        target=made,
        flow=(namespace, "box"),
        details={"marker": f"mark-{namespace}-x"},
    )
    return {"pending": pending, "request": made, "execution": execution, "resource": resource, "event": event}


def _status(response: Any) -> str:
    return str(response.status_code)


def _refused_or(response: Any) -> str:
    return "refused" if response.status_code == 302 else _status(response)


def _do(client: Any, world: dict[str, Any], actor: User, namespace: str, action: str) -> str:
    form_url = reverse("requests:new", args=[namespace, "box"])
    if action == "catalog lists flow":
        response = client.get(reverse("catalog:index"), {"per_page": 100})
        return "listed" if f'href="{form_url}"' in response.content.decode() else "hidden"
    if action == "open form":
        return _status(client.get(form_url))
    if action == "submit":
        before = ResourceRequest.objects.count()
        response = client.post(form_url, {"name": "fresh-box", "cost_center": world["plat"].pk})
        return "ok" if ResourceRequest.objects.count() > before else _status(response)
    if action == "day-2 on own resource":
        resource = _objects(world, actor, namespace)["resource"]
        response = client.post(reverse("resources:action", args=[resource.pk, "extend"]), {"days": "7"})
        return "ok" if ResourceAction.objects.filter(resource=resource).exists() else _refused_or(response)
    objects = _objects(world, world["owen"], namespace)
    if action.startswith("see ") and action != "see audit entries":
        kind = action.removeprefix("see ")
        names = {
            "request": "requests:detail",
            "execution": "executions:detail",
            "resource": "resources:detail",
        }
        return _status(client.get(reverse(names[kind], args=[objects[kind].pk])))
    if action == "see audit entries":
        response = client.get(reverse("audit:list"), {"per_page": 100})
        if response.status_code != 200:
            return _status(response)
        return "listed" if f"mark-{namespace}-x" in response.content.decode() else "hidden"
    if action == "approve":
        pending = objects["pending"]
        response = client.post(reverse("approvals:decide", args=[pending.pk]), {"decision": "approve"})
        pending.refresh_from_db()
        return "ok" if pending.state != RequestState.PENDING_APPROVAL else _refused_or(response)
    if action == "restart":
        execution = objects["execution"]
        response = client.post(reverse("executions:restart", args=[execution.pk]))
        return "ok" if response.status_code == 302 else _status(response)  # as the authorization matrix
    if action == "kill confirmation":
        Execution.objects.filter(pk=objects["execution"].pk).update(state=State.RUNNING)
        response = client.post(reverse("executions:kill", args=[objects["execution"].pk]))
        assert Execution.objects.get(pk=objects["execution"].pk).state == State.RUNNING  # nothing killed
        return _status(response)
    assert action == "day-2 on others' resource"
    resource = objects["resource"]
    response = client.post(reverse("resources:action", args=[resource.pk, "extend"]), {"days": "7"})
    return "ok" if ResourceAction.objects.filter(resource=resource).exists() else _refused_or(response)


@pytest.mark.parametrize(("role", "grant", "where", "action", "expected"), CASES)
def test_the_namespace_role_matrix(
    client: Any, world: dict[str, Any], role: str, grant: str, where: str, action: str, expected: str
) -> None:
    actor = _actor(world, role, grant)
    client.force_login(actor, backend=BACKEND)

    assert _do(client, world, actor, NAMESPACES[where], action) == expected


def test_the_matrix_covers_every_role_grant_namespace_and_action() -> None:
    assert {case.values[0] for case in CASES} == set(ROLES)
    assert {case.values[3] for case in CASES} == set(EXPECTED)
    assert len(CASES) == len(ROLES) * len(GRANTS) * len(NAMESPACES) * len(EXPECTED)


# -- patterns -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "namespace", "covered"),
    [
        ("team-a", "team-a", True),
        ("team-a", "team-a.x", False),
        ("team-a.*", "team-a", True),
        ("team-a.*", "team-a.x.y", True),
        ("team-a.*", "team-ab", False),  # a prefix of the name is not a parent namespace
        ("team-a.x.*", "team-a", False),
        ("*", "anything.at.all", True),
    ],
)
def test_it_matches_patterns_and_filters_alike(pattern: str, namespace: str, covered: bool) -> None:
    CatalogFlow.objects.create(namespace=namespace, flow_id="f", revision="r", source="", file="f.yml")
    filtered = CatalogFlow.objects.filter(namespace_patterns.to_q([pattern], "namespace")).exists()

    assert namespace_patterns.matches(pattern, namespace) is covered
    assert filtered is covered


@pytest.mark.parametrize("pattern", ["", "Team-A", "team-a.*.x", "*.team", "team a", "team-a.**", "x" * 151])
def test_it_refuses_malformed_patterns(pattern: str) -> None:
    with pytest.raises(ValidationError):
        NamespaceGrant(namespace_pattern=pattern, role="viewer").full_clean(exclude=["user", "group"])


def test_a_grant_names_a_user_or_a_group(world: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NamespaceGrant(namespace_pattern="team-a", role="viewer").full_clean()


# -- django-rules permissions and the historical groups -----------------------------------------------


def test_the_predicates_are_django_rules_permissions(world: dict[str, Any]) -> None:
    operator = _actor(world, "operator", "user on team-a")

    assert operator.has_perm("portico.operate_in_namespace", "team-a")
    assert operator.has_perm("portico.view_namespace", "team-a")
    assert not operator.has_perm("portico.operate_in_namespace", "team-b")
    assert not operator.has_perm("portico.approve_in_namespace", "team-a")
    assert rules.can_operate_in(operator, "team-a") and not rules.can_request_in(operator, "team-a")


def test_the_historical_groups_mean_their_role_on_every_namespace(world: dict[str, Any]) -> None:
    charlie = User.objects.create_user("charlie", "charlie@example.com", "pw")
    charlie.groups.add(Group.objects.get(name=APPROVERS))

    assert rules.can_approve_in(charlie, "any.namespace") and rules.can_operate_in(charlie, "team-b")
    assert rules.can_request_in(world["owen"], "team-b.x") and not rules.can_view_namespace(
        world["owen"], "team-b"
    )
    assert visibility.sees_everything(charlie) and not visibility.sees_everything(world["owen"])


def test_a_namespace_approver_decides_only_there_and_within_their_cost_centers(world: dict[str, Any]) -> None:
    approver = _actor(world, "approver", "group on team-a.*")
    data = CostCenter.objects.create(code="DATA-002", name="Data")
    plat = world["plat"]

    assert is_approver(approver)
    assert may_decide_on(approver, plat.pk, "team-a.db") and not may_decide_on(approver, plat.pk, "team-b")
    assert not may_decide_on(approver, plat.pk)  # a caller that does not say the namespace: only "*" counts
    plat.approvers.add(approver)  # scoped to PLAT from now on (a fresh user object reads it)
    approver = User.objects.get(pk=approver.pk)
    assert may_decide_on(approver, plat.pk, "team-a") and not may_decide_on(approver, data.pk, "team-a")


def test_the_approval_queue_holds_only_the_namespaces_one_approves(
    client: Any, world: dict[str, Any]
) -> None:
    approver = _actor(world, "approver", "user on team-a")
    inside = _objects(world, world["owen"], "team-a")["pending"]
    below = _objects(world, world["owen"], "team-a.db")["pending"]

    client.force_login(approver, backend=BACKEND)
    response = client.get(reverse("approvals:queue"))

    assert response.status_code == 200
    assert f"/requests/{inside.pk}/" in response.content.decode()
    assert f"/requests/{below.pk}/" not in response.content.decode()


def test_lists_show_others_objects_only_in_the_namespaces_one_oversees(world: dict[str, Any]) -> None:
    viewer = _actor(world, "viewer", "group on team-a.*")
    made = {ns: _objects(world, world["owen"], ns) for ns in NAMESPACES.values()}

    requests = visibility.visible(ResourceRequest.objects.all(), viewer, owner="requester")
    resources = visibility.visible(Resource.objects.all(), viewer, owner="owner")
    events = visibility.visible_audit_events(AuditEvent.objects.filter(verb="test.happened"), viewer)

    assert {r.catalog_flow.namespace for r in requests} == {"team-a", "team-a.db"}
    assert {r.namespace for r in resources} == {"team-a", "team-a.db"}
    assert {e.flow_namespace for e in events} == {"team-a", "team-a.db"}
    assert made["team-b"]["resource"] not in resources


def test_an_approver_granted_on_the_namespace_is_told_of_new_requests(db: Any) -> None:
    """The "requested" notice reaches whoever may decide: a namespace approver too, not only the global
    approvers' group; an approver granted elsewhere hears nothing."""
    ensure_roles()
    plat = CostCenter.objects.create(code="NS-001", name="Ns")
    flow = CatalogFlow.objects.create(
        namespace="team-a.infra", flow_id="vm", revision="r", source="id: vm\nnamespace: team-a.infra\n"
    )
    asker = User.objects.create_user("asker", "asker@example.com", "pw")
    here = User.objects.create_user("here", "here@example.com", "pw")
    via_group = User.objects.create_user("viagroup", "viagroup@example.com", "pw")
    elsewhere = User.objects.create_user("elsewhere", "elsewhere@example.com", "pw")
    NamespaceGrant.objects.create(namespace_pattern="team-a.*", role=NamespaceRole.APPROVER, user=here)
    group = Group.objects.create(name="team-a-admins")
    via_group.groups.add(group)
    NamespaceGrant.objects.create(namespace_pattern="team-a.*", role=NamespaceRole.ADMIN, group=group)
    NamespaceGrant.objects.create(namespace_pattern="team-b", role=NamespaceRole.APPROVER, user=elsewhere)
    request = ResourceRequest.objects.create(
        requester=asker, catalog_flow=flow, cost_center=plat, inputs={}, flow_revision="r"
    )
    told = {user.username for user in approvers_of(request)}
    assert {"here", "viagroup"} <= told and "elsewhere" not in told and "asker" not in told


LOG = "io.kestra.plugin.core.log.Log"


def test_the_executions_list_shows_a_namespace_viewer_their_namespaces_only(client: Any, db: Any) -> None:
    """Before, the list was all or 403: a viewer of team-a now sees team-a's runs (also those no request
    started) and nothing of team-b; a user with no role is still refused."""
    ensure_roles()
    viewer = User.objects.create_user("vic", "vic@example.com", "pw")
    NamespaceGrant.objects.create(namespace_pattern="team-a.*", role=NamespaceRole.VIEWER, user=viewer)
    nobody = User.objects.create_user("nobody", "nobody@example.com", "pw")
    for namespace in ("team-a.infra", "team-b"):
        flow_id = f"scheduled-{namespace.replace('.', '-')}"
        source = f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - {{id: t, type: {LOG}, message: hi}}\n"
        Execution.objects.create(namespace=namespace, flow_id=flow_id, flow_revision="x", flow_source=source)
    client.force_login(viewer, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("executions:list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "scheduled-team-a-infra" in html and "scheduled-team-b" not in html
    client.force_login(nobody, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("executions:list")).status_code == 403
