"""One rule for who may see what (``portal.accounts.visibility``), the same for requests, executions and
resources: approvers and superusers see everything, everyone else what is theirs, and staff status alone
grants nothing (it opens the Django admin, nothing more)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from orchestrator.state.models import Execution
from portal.accounts import visibility
from portal.accounts.models import User
from portal.executions import selectors as execution_selectors
from portal.requests import selectors as request_selectors
from portal.requests.models import ResourceRequest
from portal.requests.services import REQUEST_LABEL
from portal.resources import selectors as resource_selectors
from portal.resources import services as resource_services
from portal.resources.models import Resource

from .conftest import QUICK_FLOW

pytestmark = pytest.mark.django_db

# Who sees alice's request, its execution and her resource.
EXPECTED = {"alice": 200, "bob": 200, "charlie": 200, "root": 200, "mallory": 404, "stella": 404}


@pytest.fixture
def stella(roles: None) -> User:
    """Staff (may log into the admin) but neither approver nor superuser."""
    return User.objects.create_user("stella", "stella@example.com", "pw", is_staff=True)


@pytest.fixture
def root(roles: None) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def people(alice: User, bob: User, charlie: User, mallory: User, stella: User, root: User) -> list[User]:
    return [alice, bob, charlie, mallory, stella, root]


def _execution(labels: dict[str, str]) -> Execution:
    return Execution.objects.create(
        namespace="portico.tests", flow_id="quick", flow_revision="x", flow_source=QUICK_FLOW, labels=labels
    )


@pytest.fixture
def alices(catalog: Any, alice: User, plat: Any) -> dict[str, Any]:
    """Alice's request, the execution it started, and the resource it made."""
    request = ResourceRequest.objects.create(
        requester=alice,
        catalog_flow=catalog["quick"],
        flow_source=QUICK_FLOW,
        flow_revision="x",
        cost_center=plat,
    )
    execution = _execution({REQUEST_LABEL: str(request.pk)})
    ResourceRequest.objects.filter(pk=request.pk).update(execution=execution)
    resource = Resource.objects.create(
        kind="hcloud-server", name="db-1", owner=alice, cost_center=plat, request=request, namespace="n"
    )
    return {"request": request, "execution": execution, "resource": resource}


def test_it_knows_who_sees_everything(people: list[User]) -> None:
    seen = {user.username for user in people if visibility.sees_everything(user)}

    assert seen == {"bob", "charlie", "root"}
    assert not visibility.sees_everything(AnonymousUser())


@pytest.mark.parametrize(
    ("url_name", "kind"),
    [("requests:detail", "request"), ("executions:detail", "execution"), ("resources:detail", "resource")],
)
def test_it_shows_requests_executions_and_resources_by_the_same_rule(
    client: Any, people: list[User], alices: dict[str, Any], url_name: str, kind: str
) -> None:
    url = reverse(url_name, args=[alices[kind].pk])
    seen = {}
    for user in people:
        client.force_login(user)
        seen[user.username] = client.get(url).status_code

    assert seen == EXPECTED


def test_its_querysets_agree_with_its_per_object_check(people: list[User], alices: dict[str, Any]) -> None:
    request, resource = alices["request"], alices["resource"]
    for user in people:
        may = visibility.may_see(user, request.requester_id)
        assert request_selectors.visible_requests(user).filter(pk=request.pk).exists() == may
        assert resource_selectors.visible_resources(user).filter(pk=resource.pk).exists() == may
        assert request_selectors.openable_ids(user, [request]) == ({request.pk} if may else set())


def test_it_shows_an_execution_no_request_started_only_to_overseers(client: Any, people: list[User]) -> None:
    scheduled = _execution({})
    url = reverse("executions:detail", args=[scheduled.pk])
    seen = {}
    for user in people:
        client.force_login(user)
        seen[user.username] = client.get(url).status_code

    assert seen == {"alice": 404, "bob": 200, "charlie": 200, "root": 200, "mallory": 404, "stella": 404}
    with pytest.raises(Http404, match="no such execution"):
        execution_selectors.get_visible_execution(AnonymousUser(), scheduled.pk)


def test_it_lists_everyones_only_for_overseers(
    client: Any, stella: User, bob: User, alices: dict[str, Any]
) -> None:
    client.force_login(stella)
    assert "db-1" not in client.get(reverse("resources:list"), {"all": "1"}).content.decode()
    assert (
        f"#{alices['request'].pk}" not in client.get(reverse("requests:list"), {"all": "1"}).content.decode()
    )
    client.force_login(bob)
    assert "db-1" in client.get(reverse("resources:list"), {"all": "1"}).content.decode()
    assert f"#{alices['request'].pk}" in client.get(reverse("requests:list"), {"all": "1"}).content.decode()


def test_it_lets_only_those_who_see_a_resource_act_on_it(
    stella: User, mallory: User, alices: dict[str, Any]
) -> None:
    with pytest.raises(PermissionDenied, match="requester role"):
        resource_services.do_request_action(alices["resource"].pk, "destroy", acting_user=stella)
    with pytest.raises(Resource.DoesNotExist):  # a requester, but not hers: as if it did not exist
        resource_services.do_request_action(alices["resource"].pk, "destroy", acting_user=mallory)
