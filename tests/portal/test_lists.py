"""The shared list component on every list page: filters in the URL, a bounded page, counts, and — above
all — no filter value that widens what a user may see. Plus bulk approve/reject from the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from orchestrator.state.models import Execution, State
from portal.accounts.models import CostCenter, User
from portal.approvals import services as approvals
from portal.approvals.models import Decision, Outcome
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.catalog.models import CatalogFlow
from portal.lists.ages import short_age
from portal.lists.paging import MAX_PAGE_SIZE
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import submit_request
from portal.resources.models import Resource, ResourceState

from .conftest import QUICK_FLOW, VALID_INPUTS

pytestmark = pytest.mark.django_db

TASKS = "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def _html(client: Any, name: str, params: dict[str, Any] | None = None) -> str:
    response = client.get(reverse(name), params or {})
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _request(
    catalog: dict[str, CatalogFlow], who: User, cost_center: CostCenter, **extra: Any
) -> ResourceRequest:
    flow = catalog["quick"]
    return ResourceRequest.objects.create(
        requester=who,
        catalog_flow=flow,
        flow_revision=flow.revision,
        flow_source=flow.source,
        cost_center=cost_center,
        **extra,
    )


def _pending(catalog: dict[str, CatalogFlow], who: User, cost_center: CostCenter) -> ResourceRequest:
    """A real submission (its flow needs approval), so approving it runs every rule of the service."""
    return submit_request(
        requester=who, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=cost_center
    )


@pytest.fixture
def alice_charges_data(alice: User, data_cc: CostCenter) -> None:
    data_cc.members.add(alice)


def _resource(request: ResourceRequest, name: str, **extra: Any) -> Resource:
    return Resource.objects.create(
        kind=extra.pop("kind", "hcloud-server"),
        name=name,
        owner=request.requester,
        cost_center=request.cost_center,
        request=request,
        namespace="portico.tests",
        **extra,
    )


# ------------------------------------------------------------------------------------------ catalog


def test_it_searches_the_catalog_by_title_description_namespace_and_label(client, catalog, alice):
    client.force_login(alice)
    all_inputs = reverse("requests:new", args=["portico.tests", "all-inputs"])
    quick = reverse("requests:new", args=["portico.tests", "quick"])

    by_description = _html(client, "catalog:index", {"q": "every input"})
    by_title = _html(client, "catalog:index", {"q": "Quick"})
    by_namespace = _html(client, "catalog:index", {"q": "portico.tests"})
    by_label = _html(client, "catalog:index", {"label": "team=platform"})
    nothing = _html(client, "catalog:index", {"q": "no-such-thing"})

    assert all_inputs in by_description and quick not in by_description
    assert quick in by_title and all_inputs not in by_title
    assert quick in by_namespace and all_inputs in by_namespace and "2 results" in by_namespace
    assert all_inputs in by_label and quick not in by_label and 'value="team=platform" selected' in by_label
    assert "Nothing matches" in nothing and "0 results" in nothing


def test_it_pages_the_catalog_keeping_the_filters_in_the_links(client, catalog, alice):
    CatalogFlow.objects.bulk_create(
        CatalogFlow(namespace="bulk.ns", flow_id=f"vm-{i:03}", revision="r", source="", file="f.yml")
        for i in range(60)
    )
    client.force_login(alice)

    first = _html(client, "catalog:index", {"q": "vm-", "per_page": "25"})
    third = _html(client, "catalog:index", {"q": "vm-", "per_page": "25", "page": "3"})

    assert "60 results" in first and "showing 1–25" in first and "vm-024" in first and "vm-025" not in first
    assert 'href="?q=vm-&amp;per_page=25&amp;page=2"' in first and "Page 1 of 3" in first
    assert "vm-059" in third and "vm-049" not in third and "showing 51–60" in third
    assert '<input type="hidden" name="per_page" value="25">' in first  # filtering keeps the page size


def test_a_page_holds_at_most_one_hundred_rows_whatever_the_url_asks(client, catalog, alice):
    CatalogFlow.objects.bulk_create(
        CatalogFlow(namespace="bulk.ns", flow_id=f"vm-{i:03}", revision="r", source="", file="f.yml")
        for i in range(MAX_PAGE_SIZE + 20)
    )
    client.force_login(alice)

    html = _html(client, "catalog:index", {"per_page": "100000", "q": "vm-"})

    assert f"showing 1–{MAX_PAGE_SIZE}" in html and "vm-099" in html and "vm-100" not in html


@pytest.mark.parametrize(
    "params",
    [
        {"page": "9" * 5000},
        {"page": "-1", "per_page": "0"},
        {"per_page": "²"},
        {"q": "x" * 5000},
        {"label": "team=platform' OR 1=1 --"},
        {"since": "9999-12-31", "until": "9999-12-31"},
        {"since": "0001-01-01", "until": "not-a-date"},
        {"state": "NOPE", "flow": "9" * 40, "cost_center": "²"},
    ],
)
def test_hostile_list_parameters_are_answered_not_crashed_on(client, catalog, alice, bob, params):
    _request(catalog, alice, alice.default_cost_center)
    client.force_login(bob)
    for name in ("catalog:index", "requests:list", "approvals:queue", "executions:list", "resources:list"):
        assert client.get(reverse(name), params).status_code == 200, name
    assert client.get(reverse("audit:list"), params).status_code == 200


# ------------------------------------------------------------------------------------------ requests


def test_it_filters_my_requests_by_state_flow_date_and_search(client, catalog, alice, plat):
    old = _request(catalog, alice, plat, state=RequestState.SUCCEEDED)
    ResourceRequest.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=40))
    failed = _request(catalog, alice, plat, state=RequestState.FAILED)
    pending = _pending(catalog, alice, plat)
    client.force_login(alice)
    today = timezone.localdate().isoformat()

    def numbers(params: dict[str, str]) -> set[int]:
        html = _html(client, "requests:list", params)
        return {r.pk for r in (old, failed, pending) if reverse("requests:detail", args=[r.pk]) in html}

    assert numbers({}) == {old.pk, failed.pk, pending.pk}
    assert numbers({"state": "FAILED"}) == {failed.pk}
    assert numbers({"flow": str(catalog["all-inputs"].pk)}) == {pending.pk}
    assert numbers({"since": today}) == {failed.pk, pending.pk}
    assert numbers({"until": (timezone.localdate() - timedelta(days=30)).isoformat()}) == {old.pk}
    assert numbers({"q": f"#{failed.pk}"}) == {failed.pk}
    assert numbers({"q": "all-inputs"}) == {pending.pk}


def test_no_filter_shows_a_requester_anything_of_someone_else(
    client, catalog, alice, bob, mallory, plat, data_cc
):
    """Filters only narrow the visible set: naming another owner, their cost center, their flow or the
    "everyone" tab shows a requester nothing extra on any list."""
    alices = _request(catalog, alice, plat, state=RequestState.SUCCEEDED)
    _resource(alices, "alices-box")
    Execution.objects.create(
        namespace="portico.tests", flow_id="quick", flow_revision="x", flow_source=QUICK_FLOW
    )
    client.force_login(mallory)
    hostile = {
        "all": "1",
        "owner": str(alice.pk),
        "requester": str(alice.pk),
        "cost_center": str(plat.pk),
        "flow": str(catalog["quick"].pk),
        "destroyed": "on",
        "state": "SUCCEEDED",
    }

    requests_page = _html(client, "requests:list", hostile)
    resources_page = _html(client, "resources:list", hostile)

    assert reverse("requests:detail", args=[alices.pk]) not in requests_page and "0 results" in requests_page
    assert "alices-box" not in resources_page and "0 results" in resources_page
    assert 'name="owner"' not in resources_page  # no owner filter for one's own resources
    assert client.get(reverse("executions:list"), hostile).status_code == 403
    assert client.get(reverse("approvals:queue"), hostile).status_code == 403
    assert client.get(reverse("audit:list"), hostile).status_code == 403


# ------------------------------------------------------------------------------------------ approval queue


def test_the_queue_shows_each_requests_age_and_filters_by_cost_center_flow_and_age(
    client, catalog, alice, bob, plat, data_cc, alice_charges_data
):
    old = _pending(catalog, alice, plat)
    ResourceRequest.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=3, minutes=5))
    fresh = _pending(catalog, alice, data_cc)
    client.force_login(bob)

    def shown(params: dict[str, str]) -> set[int]:
        html = _html(client, "approvals:queue", params)
        return {r.pk for r in (old, fresh) if f'id="request-{r.pk}"' in html}

    html = _html(client, "approvals:queue")
    assert "waiting 3 h" in html and "waiting under a minute" in html
    assert html.index(f'id="request-{old.pk}"') < html.index(f'id="request-{fresh.pk}"')  # oldest first
    assert shown({"cost_center": str(data_cc.pk)}) == {fresh.pk}
    assert shown({"age": "1h"}) == {old.pk}
    assert shown({"age": "1d"}) == set()
    assert shown({"flow": str(catalog["all-inputs"].pk)}) == {old.pk, fresh.pk}
    assert shown({"q": f"#{fresh.pk}"}) == {fresh.pk}


def test_a_scoped_approvers_queue_cannot_be_filtered_into_another_cost_center(
    client, catalog, alice, charlie, plat, data_cc, alice_charges_data
):
    plats = _pending(catalog, alice, plat)
    datas = _pending(catalog, alice, data_cc)
    data_cc.approvers.add(charlie)
    client.force_login(charlie)

    html = _html(client, "approvals:queue", {"cost_center": str(plat.pk)})

    assert f'id="request-{plats.pk}"' not in html
    assert f'id="request-{datas.pk}"' not in html  # the filter narrowed to PLAT, where he sees nothing
    assert f'id="request-{datas.pk}"' in _html(client, "approvals:queue")


def test_it_approves_several_with_one_comment_and_names_each_one_it_could_not(
    client, catalog, alice, bob, charlie, plat, data_cc
):
    first, second = _pending(catalog, alice, plat), _pending(catalog, alice, plat)
    bobs_own = _pending(catalog, bob, plat)
    decided = _pending(catalog, alice, plat)
    approvals.reject(decided.pk, acting_user=charlie, comment="no")
    client.force_login(bob)

    response = client.post(
        reverse("approvals:bulk_decide"),
        {
            "decision": "approve",
            "comment": "batch ok",
            "requests": [first.pk, second.pk, bobs_own.pk, decided.pk, 999999, "x"],
        },
        follow=True,
    )
    html = response.content.decode()

    approved = Decision.objects.filter(outcome=Outcome.APPROVED)
    assert sorted(d.request_id for d in approved) == sorted([first.pk, second.pk])
    assert {d.comment for d in approved} == {"batch ok"} and {d.approver for d in approved} == {bob}
    assert f"2 requests approved: #{first.pk}, #{second.pk}." in html
    assert f"Request #{bobs_own.pk} was not approved: you cannot decide on your own request." in html
    assert f"Request #{decided.pk} was not approved: it is rejected, not pending approval." in html
    assert "Request #999999 was not approved: not found, or not yours to decide." in html
    assert AuditEvent.objects.filter(verb="request.approved").count() == 2
    bobs_own.refresh_from_db()
    assert bobs_own.state == RequestState.PENDING_APPROVAL


def test_a_scoped_approver_bulk_rejects_only_within_scope(
    client, catalog, alice, charlie, plat, data_cc, alice_charges_data
):
    plats, datas = _pending(catalog, alice, plat), _pending(catalog, alice, data_cc)
    data_cc.approvers.add(charlie)
    client.force_login(charlie)

    response = client.post(
        reverse("approvals:bulk_decide"),
        {"decision": "reject", "comment": "not now", "requests": [plats.pk, datas.pk]},
        follow=True,
    )
    html = response.content.decode()

    plats.refresh_from_db()
    datas.refresh_from_db()
    assert plats.state == RequestState.PENDING_APPROVAL and datas.state == RequestState.REJECTED
    assert datas.decision.comment == "not now"
    assert f"Request #{plats.pk} was not rejected: not found, or not yours to decide." in html


@pytest.mark.parametrize("data", [{"requests": ["1"]}, {"decision": "approve"}, {"decision": "maybe"}])
def test_a_bulk_post_without_a_button_or_a_tick_decides_nothing(client, catalog, alice, bob, plat, data):
    pending = _pending(catalog, alice, plat)
    data = {**data, "requests": [str(pending.pk)]} if "requests" in data else data
    client.force_login(bob)

    response = client.post(reverse("approvals:bulk_decide"), data, follow=True)

    pending.refresh_from_db()
    assert (
        pending.state == RequestState.PENDING_APPROVAL and "Nothing was decided" in response.content.decode()
    )


def test_bulk_decisions_need_the_approver_role_and_a_post(client, catalog, alice, plat):
    pending = _pending(catalog, alice, plat)
    client.force_login(alice)

    forbidden = client.post(
        reverse("approvals:bulk_decide"), {"decision": "approve", "requests": [pending.pk]}
    )

    assert forbidden.status_code == 403
    pending.refresh_from_db()
    assert pending.state == RequestState.PENDING_APPROVAL


def test_the_queue_offers_bulk_checkboxes_for_the_bulk_form(client, catalog, alice, bob, plat):
    pending = _pending(catalog, alice, plat)
    client.force_login(bob)

    html = _html(client, "approvals:queue")

    assert f'name="requests" value="{pending.pk}" form="bulk-decide"' in html
    assert f'action="{reverse("approvals:bulk_decide")}"' in html and "Approve selected" in html


# ------------------------------------------------------------------------------------------ executions


def test_it_filters_executions_by_state_namespace_flow_and_date(client, bob):
    def execution(namespace: str, flow_id: str, state: str, days_ago: int = 0) -> Execution:
        return Execution.objects.create(
            namespace=namespace,
            flow_id=flow_id,
            flow_revision="x",
            flow_source=f"id: {flow_id}\nnamespace: {namespace}\n{TASKS}",
            state=state,
            created=timezone.now() - timedelta(days=days_ago),
        )

    a = execution("team.a", "build", State.SUCCESS)
    b = execution("team.b", "deploy", State.FAILED)
    c = execution("team.a", "deploy", State.FAILED, days_ago=10)
    client.force_login(bob)

    def shown(params: dict[str, str]) -> set[Any]:
        html = _html(client, "executions:list", params)
        return {e.pk for e in (a, b, c) if reverse("executions:detail", args=[e.pk]) in html}

    assert shown({}) == {a.pk, b.pk, c.pk}
    assert shown({"state": "FAILED"}) == {b.pk, c.pk}
    assert shown({"namespace": "team.a"}) == {a.pk, c.pk}
    assert shown({"flow": "team.a.deploy"}) == {c.pk}
    assert shown({"since": timezone.localdate().isoformat()}) == {a.pk, b.pk}
    assert shown({"namespace": "team.a", "state": "FAILED"}) == {c.pk}


# ------------------------------------------------------------------------------------------ resources


def test_destroyed_resources_are_hidden_unless_asked_for(client, catalog, alice, plat):
    live = _resource(_request(catalog, alice, plat), "live-box")
    gone = _resource(_request(catalog, alice, plat), "gone-box", state=ResourceState.DESTROYED)
    client.force_login(alice)

    default = _html(client, "resources:list")
    with_destroyed = _html(client, "resources:list", {"destroyed": "on"})
    only_destroyed = _html(client, "resources:list", {"state": "DESTROYED"})

    assert live.name in default and gone.name not in default and "1 result" in default
    assert live.name in with_destroyed and gone.name in with_destroyed
    assert gone.name in only_destroyed and live.name not in only_destroyed


def test_overseers_filter_resources_by_kind_cost_center_and_owner(
    client, catalog, alice, bob, mallory, plat, data_cc
):
    alices = _resource(_request(catalog, alice, plat), "alices-vm", kind="hcloud-server")
    mallorys = _resource(_request(catalog, mallory, data_cc), "mallorys-db", kind="database")
    client.force_login(bob)

    def shown(params: dict[str, str]) -> set[str]:
        html = _html(client, "resources:list", {"all": "1", **params})
        return {r.name for r in (alices, mallorys) if r.name in html}

    assert shown({}) == {"alices-vm", "mallorys-db"}
    assert shown({"kind": "database"}) == {"mallorys-db"}
    assert shown({"cost_center": str(plat.pk)}) == {"alices-vm"}
    assert shown({"owner": str(mallory.pk)}) == {"mallorys-db"}
    tab = _html(client, "resources:list", {"all": "1"})
    assert 'name="all" value="1"' in tab  # the tab survives filtering
    assert "alices-vm" not in _html(client, "resources:list", {"owner": str(alice.pk)})  # "Mine": bob's only


# ------------------------------------------------------------------------------------------ audit log


def test_the_audit_log_filters_pages_and_exports_with_the_same_parameters(client, alice, bob, plat, data_cc):
    for i in range(60):
        record("request.submitted", actor=alice, target=("requests.resourcerequest", i), cost_center=plat)
    record("request.submitted", actor=bob, target=("requests.resourcerequest", 999), cost_center=data_cc)
    client.force_login(bob)

    first = _html(client, "audit:list", {"actor": str(alice.pk)})
    second = _html(client, "audit:list", {"actor": str(alice.pk), "page": "2"})
    export = client.get(reverse("audit:export"), {"actor": str(alice.pk), "page": "2"})
    rows = b"".join(export.streaming_content).decode().strip().splitlines()

    assert "60 results" in first and "showing 1–50" in first and "request #999" not in first
    assert f'href="?actor={alice.pk}&amp;page=2"' in first
    assert f'href="/audit/export.csv?actor={alice.pk}"' in second  # the export ignores the page: all 60
    assert len(rows) == 61
    assert "request #999" in _html(client, "audit:list", {"cost_center": str(data_cc.pk)})


# ------------------------------------------------------------------------------------------ ages


@pytest.mark.parametrize(
    ("elapsed", "text"),
    [
        (timedelta(seconds=20), "under a minute"),
        (timedelta(minutes=5, seconds=59), "5 min"),
        (timedelta(hours=3, minutes=59), "3 h"),
        (timedelta(days=2, hours=23), "2 d"),
    ],
)
def test_an_age_is_its_largest_whole_unit(elapsed, text):
    now = timezone.now()
    assert short_age(now - elapsed, now) == text
