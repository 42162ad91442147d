"""Resources end to end: request a Hetzner VM, see its price, approve, get a resource, act on it, expire it.

A real Celery worker runs the real flows from flows/ against the local Hetzner API fake (whose traffic
is validated against the official schema at teardown) and the offline sandbox Terraform module.
"""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from hcloud_fake import HcloudFake
from portal.approvals import services as approvals
from portal.audit.models import AuditEvent
from portal.audit.verification import verify_chain
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests.models import RequestState, ResourceRequest
from portal.resources import pricing, selectors, services, tasks
from portal.resources.models import RequestEstimate, Resource, ResourceAction, ResourceState
from tests.fakes.hcloud_fake import hcloud_fake  # noqa: F401  (fixture)
from tests.orchestrator.test_terraform import state_resources

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb5Yb0tJvTQ8nqUu2dXWmT3yHdqkqYtq7c0mVdQ7E0a alice@laptop"
FLOWS = (
    "hetzner-vm",
    "hetzner-vm-terraform",
    "hetzner-vm-destroy",
    "hetzner-vm-terraform-destroy",
    "hetzner-vm-poweroff",
    "hetzner-vm-poweron",
    "resource-extend",
)
TIMEOUT = 120.0


@pytest.fixture
def fake(hcloud_fake: HcloudFake, settings: Any, tmp_path: Path, celery_worker: Any) -> HcloudFake:  # noqa: F811
    settings.HCLOUD_TOKEN = hcloud_fake.token
    settings.HCLOUD_ENDPOINT = hcloud_fake.endpoint
    settings.HCLOUD_POLL_INTERVAL = 0.01
    settings.HCLOUD_SDK_RETRIES = 0
    settings.HCLOUD_TERRAFORM_MODULE = "sandbox-server"
    settings.DATA_DIR = tmp_path / "data"  # Terraform state and working copies of this test only
    cache.clear()
    yield hcloud_fake
    cache.clear()


@pytest.fixture
def vm_catalog(db: Any, tmp_path: Path) -> dict[str, CatalogFlow]:
    directory = tmp_path / "flows"
    directory.mkdir()
    for name in FLOWS:
        shutil.copy(ROOT / "flows" / f"{name}.yml", directory)
    report = sync_flows(directory)
    assert report.ok, report.errors
    return {f.flow_id: f for f in CatalogFlow.objects.all()}


def wait_until(check: Any, what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def finished(request: ResourceRequest) -> ResourceRequest:
    return wait_until(
        lambda: ResourceRequest.objects.filter(
            pk=request.pk, state__in=(RequestState.SUCCEEDED, RequestState.FAILED)
        ).first(),
        f"request #{request.pk} to finish",
    )


VM_FORM = {
    "name": "web-1",
    "server_type": "cx22",
    "image": "ubuntu-24.04",
    "location": "nbg1",
    "ssh_public_key": SSH_KEY,
    "lifetime": "7",
}


def request_vm(client: Any, user: Any, cost_center: Any, flow_id: str = "hetzner-vm", **changes: str) -> Any:
    client.force_login(user)
    response = client.post(
        reverse("requests:new", args=["portico.infra", flow_id]),
        {**VM_FORM, **changes, "cost_center": cost_center.pk},
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    return ResourceRequest.objects.filter(requester=user).latest("pk")


def approve(request: Any, approver: Any) -> ResourceRequest:
    return approvals.approve(request.pk, acting_user=approver, comment="ok")


def provision(client: Any, alice: Any, bob: Any, plat: Any) -> Resource:
    request = request_vm(client, alice, plat)
    approve(request, bob)
    assert finished(request).state == RequestState.SUCCEEDED
    return Resource.objects.get(request=request)


def test_it_shows_options_and_the_price_as_the_user_chooses(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any
) -> None:
    client.force_login(alice)

    page = client.get(reverse("requests:new", args=["portico.infra", "hetzner-vm"])).content.decode()
    price = client.get(
        reverse("resources:price", args=["portico.infra", "hetzner-vm"]),
        {"server_type": "cpx11", "location": "hel1"},
    ).content.decode()

    assert "cx22 — 2 vCPU, 4 GB RAM, 40 GB disk" in page and "hel1 — Helsinki (FI)" in page
    assert 'hx-get="/resources/price/portico.infra/hetzner-vm/"' in page
    assert "change from:#id_server_type" in page
    assert "€4.85" in price and "/ month" in price


def test_it_refuses_a_server_type_the_api_does_not_offer(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, plat: Any
) -> None:
    client.force_login(alice)
    response = client.post(
        reverse("requests:new", args=["portico.infra", "hetzner-vm"]),
        {**VM_FORM, "server_type": "cx99", "ssh_public_key": "not a key", "cost_center": plat.pk},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "This value must be one of: cx22" in body and "ssh-ed25519" in body
    assert not ResourceRequest.objects.exists()


def test_it_provisions_a_vm_records_the_resource_and_destroys_it_on_request(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, plat: Any, mailoutbox: Any
) -> None:
    request = request_vm(client, alice, plat)
    estimate = RequestEstimate.objects.get(request=request)
    assert estimate.monthly_cost == Decimal("3.79") and not estimate.over_budget

    client.force_login(bob)
    queue = client.get(reverse("approvals:queue")).content.decode()
    assert "€3.79" in queue and "PLAT-001 this month" in queue
    approve(request, bob)
    assert finished(request).state == RequestState.SUCCEEDED

    resource = Resource.objects.get(request=request)
    assert (resource.kind, resource.name, resource.owner, resource.cost_center) == (
        "hcloud-server",
        "web-1",
        alice,
        plat,
    )
    assert resource.state == ResourceState.RUNNING and resource.ipv4.startswith("203.0.113.")
    assert resource.monthly_cost == Decimal("3.79")
    assert abs(resource.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=5)
    server = fake.cloud.servers[int(resource.provider_id)]
    assert server.labels["owner"] == "alice" and server.labels["cost-center"] == "PLAT-001"
    assert server.labels["request-id"] == str(request.pk)

    client.force_login(alice)
    page = client.get(reverse("resources:list")).content.decode()
    assert "web-1" in page and resource.ipv4 in page and "€3.79" in page
    response = client.post(reverse("resources:action", args=[resource.pk, "destroy"]), {"confirm": "yes"})
    destroy = ResourceRequest.objects.filter(catalog_flow__flow_id="hetzner-vm-destroy").get()
    assert response.status_code == 302 and destroy.inputs == {
        "resource_id": resource.pk,
        "server_id": int(resource.provider_id),
        "name": resource.name,
    }
    assert destroy.state == RequestState.PENDING_APPROVAL  # the same request → approval path

    approve(destroy, bob)
    assert finished(destroy).state == RequestState.SUCCEEDED
    resource.refresh_from_db()
    assert resource.state == ResourceState.DESTROYED and resource.destroyed_at is not None
    assert fake.cloud.servers == {} and fake.cloud.ssh_keys == {}  # nothing left behind
    verbs = list(
        AuditEvent.objects.filter(target_type="resources.resource")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    # Recorded first when the server's id was known, then completed when the flow succeeded.
    assert verbs == [
        "resource.provisioning_started",
        "resource.created",
        "resource.action_requested",
        "resource.destroy_succeeded",
    ]
    assert verify_chain() == (True, None)


def test_it_powers_off_on_and_extends_through_requests(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    resource = provision(client, alice, bob, plat)
    expires = resource.expires_at

    for action, data, state in (("poweroff", {}, ResourceState.OFF), ("poweron", {}, ResourceState.RUNNING)):
        req = services.do_request_action(resource.pk, action, acting_user=alice, data=data)
        approve(req, bob)
        assert finished(req).state == RequestState.SUCCEEDED
        resource.refresh_from_db()
        assert resource.state == state
        assert fake.cloud.servers[int(resource.provider_id)].status == (
            "off" if state == "OFF" else "running"
        )

    req = services.do_request_action(resource.pk, "extend", acting_user=alice, data={"days": "3"})
    approve(req, bob)
    assert finished(req).state == RequestState.SUCCEEDED
    resource.refresh_from_db()
    assert resource.expires_at - expires == timedelta(days=3)


def test_it_refuses_actions_from_someone_else(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, mallory: Any, plat: Any
) -> None:
    resource = provision(client, alice, bob, plat)
    client.force_login(mallory)

    client.post(reverse("resources:action", args=[resource.pk, "destroy"]))
    page = client.get(reverse("resources:list")).content.decode()

    assert not ResourceRequest.objects.filter(catalog_flow__flow_id="hetzner-vm-destroy").exists()
    assert "web-1" not in page


def test_it_warns_once_before_expiry_then_destroys_as_system(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, plat: Any, mailoutbox: Any
) -> None:
    resource = provision(client, alice, bob, plat)
    Resource.objects.filter(pk=resource.pk).update(expires_at=timezone.now() + timedelta(hours=2))

    first = tasks.expire_resources_task()
    second = tasks.expire_resources_task()

    assert first == {"warned": [resource.pk], "destroy_requests": []} and second["warned"] == []
    warning = wait_until(lambda: [m for m in mailoutbox if "will be destroyed" in m.subject], "warning email")
    assert len(warning) == 1 and warning[0].to == ["alice@example.com"] and "web-1" in warning[0].body

    Resource.objects.filter(pk=resource.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    result = tasks.expire_resources_task()
    assert tasks.expire_resources_task()["destroy_requests"] == []  # already on its way

    (destroy_id,) = result["destroy_requests"]
    destroy = ResourceRequest.objects.get(pk=destroy_id)
    assert destroy.decision.approver is None  # approved by the system
    assert finished(destroy).state == RequestState.SUCCEEDED
    # The requester hears that it finished (so the mail queue has drained past the request's own mails).
    wait_until(
        lambda: [m for m in mailoutbox if f"#{destroy_id} " in m.subject and m.to == ["alice@example.com"]],
        "completion email",
    )
    asked = [m for m in mailoutbox if "Approval needed" in m.subject and f"(#{destroy_id})" in m.subject]
    assert asked == [], "nobody is asked to approve what Portico destroys on its own"
    resource.refresh_from_db()
    assert resource.state == ResourceState.DESTROYED and fake.cloud.servers == {}
    expired = AuditEvent.objects.get(verb="resource.expired")
    auto = AuditEvent.objects.get(verb="request.auto_approved", target_id=str(destroy_id))
    assert expired.actor_repr == "system" and auto.actor_repr == "system"
    assert auto.details["reason"] == f"resource #{resource.pk} expired"


def test_it_shows_the_terraform_plan_before_approval_and_destroys_the_state(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    request = request_vm(client, alice, plat, flow_id="hetzner-vm-terraform", name="tf-1")
    estimate = wait_until(
        lambda: RequestEstimate.objects.filter(request=request).exclude(plan_state="PENDING").first(),
        "the plan preview",
    )
    assert estimate.plan_state == "DONE", estimate.plan_error
    assert (estimate.plan_summary["add"], estimate.plan_summary["destroy"]) == (1, 0)
    client.force_login(bob)
    queue = client.get(reverse("approvals:queue")).content.decode()
    assert "1 to add, 0 to change, 0 to destroy" in queue and "terraform_data.server" in queue

    approve(request, bob)
    assert finished(request).state == RequestState.SUCCEEDED
    resource = Resource.objects.get(request=request)
    assert resource.ipv4.startswith("198.1") and resource.monthly_cost == Decimal("3.79")
    assert set(resource.actions) == {"destroy", "extend"}
    key = f"hcloud-request-{request.pk}"  # from the request's id, never from the chosen name
    assert resource.state_key == key
    assert [r["type"] for r in state_resources("sandbox-server", key)] == ["terraform_data"]

    destroy = services.do_request_action(resource.pk, "destroy", acting_user=alice)
    approve(destroy, bob)
    assert finished(destroy).state == RequestState.SUCCEEDED
    resource.refresh_from_db()
    assert resource.state == ResourceState.DESTROYED
    assert state_resources("sandbox-server", key) == []  # nothing left in the state


def test_it_needs_two_distinct_approvers_over_budget(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, charlie: Any, plat: Any
) -> None:
    plat.monthly_budget = Decimal("2.00")
    plat.save()
    request = request_vm(client, alice, plat)
    assert RequestEstimate.objects.get(request=request).over_budget

    client.force_login(bob)
    page = client.post(reverse("approvals:decide", args=[request.pk]), {"decision": "approve"}, follow=True)
    assert "needs a second approver" in page.content.decode()
    assert "two approvers (first approval by bob)" in page.content.decode()  # the queue says so too
    request.refresh_from_db()
    assert request.state == RequestState.PENDING_APPROVAL
    with pytest.raises(approvals.SelfApprovalError, match="second, different approver"):
        approve(request, bob)
    decided = approve(request, charlie)

    assert decided.state in (RequestState.APPROVED, RequestState.RUNNING, RequestState.SUCCEEDED)
    assert AuditEvent.objects.filter(verb="request.first_approval", actor=bob).count() == 1
    finished(request)


def test_it_accrues_month_to_date_cost_capped_at_the_monthly_price(
    fake: HcloudFake, vm_catalog: Any, alice: Any, plat: Any
) -> None:
    now = timezone.now()
    request = ResourceRequest.objects.create(
        requester=alice,
        catalog_flow=vm_catalog["hetzner-vm"],
        flow_source="",
        flow_revision="x",
        cost_center=plat,
    )
    resource = Resource.objects.create(
        kind="hcloud-server",
        name="a",
        owner=alice,
        cost_center=plat,
        request=request,
        namespace="n",
        monthly_cost=Decimal("3.79"),
        hourly_cost=Decimal("0.0060"),
    )
    Resource.objects.filter(pk=resource.pk).update(
        created=max(now - timedelta(hours=10), pricing.month_start(now))
    )

    total = selectors.month_to_date(plat)

    hours = Decimal((now - Resource.objects.get(pk=resource.pk).created).total_seconds()) / 3600
    assert abs(total - (hours * Decimal("0.0060")).quantize(pricing.CENT)) <= Decimal("0.01")
    assert total <= Decimal("3.79")


def test_it_lists_creating_flows_in_the_catalog_but_not_day_two_flows(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any
) -> None:
    client.force_login(alice)

    page = client.get(reverse("catalog:index")).content.decode()

    assert "/flows/portico.infra/hetzner-vm/" in page and "Hetzner Cloud VM (Terraform)" in page
    assert "hetzner-vm-destroy" not in page and "resource-extend" not in page


def test_it_shows_a_resource_with_its_requests_audit_trail_and_actions(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    resource = provision(client, alice, bob, plat)
    poweroff = services.do_request_action(resource.pk, "poweroff", acting_user=alice)
    url = reverse("resources:detail", args=[resource.pk])

    client.force_login(alice)
    listing = client.get(reverse("resources:list")).content.decode()
    page = client.get(url).content.decode()

    assert f'href="{url}"' in listing
    for fact in ("hcloud-server", resource.provider_id, resource.ipv4, "alice", "PLAT-001", "€3.79"):
        assert fact in page, fact
    assert f"{resource.expires_at:%Y-%m-%d}" in page and "Running" in page
    assert reverse("requests:detail", args=[resource.request_id]) in page and "created it" in page
    assert reverse("requests:detail", args=[poweroff.pk]) in page  # the day-2 request that touched it
    assert reverse("executions:detail", args=[resource.request.execution_id]) in page
    assert "resource.created" in page and "resource.action_requested" in page
    for action in ("destroy", "extend", "poweroff"):
        assert reverse("resources:action", args=[resource.pk, action]) in page
    assert 'value="poweroff"' in page and 'value="poweron"' not in page  # it is running
    approve(poweroff, bob)
    finished(poweroff)


def test_it_shows_a_resource_only_to_its_owner_and_approvers(
    client: Any, alice: Any, bob: Any, charlie: Any, mallory: Any, plat: Any, vm_catalog: Any
) -> None:
    request = ResourceRequest.objects.create(
        requester=alice,
        catalog_flow=vm_catalog["hetzner-vm"],
        flow_source="",
        flow_revision="x",
        cost_center=plat,
    )
    resource = Resource.objects.create(
        kind="hcloud-server", name="db-1", owner=alice, cost_center=plat, request=request, namespace="n"
    )
    url = reverse("resources:detail", args=[resource.pk])
    seen = {}
    for user in (alice, bob, charlie, mallory):
        client.force_login(user)
        seen[user.username] = client.get(url).status_code
    client.logout()

    assert seen == {"alice": 200, "bob": 200, "charlie": 200, "mallory": 404}
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(alice)
    assert client.get(reverse("resources:detail", args=[resource.pk + 1])).status_code == 404


def test_it_shows_the_estimated_price_on_the_request_page(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, plat: Any
) -> None:
    request = request_vm(client, alice, plat, server_type="cpx11", location="hel1")

    page = client.get(reverse("requests:detail", args=[request.pk])).content.decode()

    assert 'data-testid="estimate"' in page and "€4.85" in page and "/ month" in page
    assert "€0.0077 / hour" in page  # the same figures and wording as the approval queue


def test_it_refuses_a_server_type_deprecated_in_the_chosen_location(
    client: Any, fake: HcloudFake, vm_catalog: Any, alice: Any, plat: Any
) -> None:
    client.force_login(alice)
    url = reverse("requests:new", args=["portico.infra", "hetzner-vm"])

    form = client.get(url).content.decode()
    price = client.get(
        reverse("resources:price", args=["portico.infra", "hetzner-vm"]),
        {"server_type": "cx21", "location": "fsn1"},
    ).content.decode()
    refused = client.post(url, {**VM_FORM, "server_type": "cx21", "location": "fsn1", "cost_center": plat.pk})

    assert 'value="cx21"' in form and 'value="cx11"' not in form  # cx11 is deprecated everywhere
    assert "deprecated in fsn1" in price
    assert refused.status_code == 400
    assert "Server type cx21 is deprecated in fsn1 (unavailable after 2024-09-06)" in refused.content.decode()
    assert not ResourceRequest.objects.exists()
    assert (
        request_vm(client, alice, plat, server_type="cx21", location="nbg1").inputs["server_type"] == "cx21"
    )


def test_it_links_only_the_requests_a_viewer_may_open(
    client: Any, alice: Any, bob: Any, plat: Any, vm_catalog: Any
) -> None:
    flow = vm_catalog["hetzner-vm"]
    created = ResourceRequest.objects.create(
        requester=alice, catalog_flow=flow, flow_source="", flow_revision="x", cost_center=plat
    )
    resource = Resource.objects.create(
        kind="hcloud-server",
        name="db-1",
        owner=alice,
        cost_center=plat,
        request=created,
        namespace=flow.namespace,
    )
    by_bob = ResourceRequest.objects.create(  # e.g. an approver extending alice's server for her
        requester=bob,
        catalog_flow=flow,
        flow_source="",
        flow_revision="x",
        cost_center=plat,
        inputs={"resource_id": resource.pk},
    )
    ResourceAction.objects.create(request=by_bob, resource=resource, action="extend")
    url = reverse("resources:detail", args=[resource.pk])
    bob_link = f'href="{reverse("requests:detail", args=[by_bob.pk])}"'

    client.force_login(alice)
    page = client.get(url).content.decode()
    assert f"#{by_bob.pk}" in page and bob_link not in page
    assert f'href="{reverse("requests:detail", args=[created.pk])}"' in page
    client.force_login(bob)
    assert bob_link in client.get(url).content.decode()


def test_a_refused_action_returns_to_the_page_it_came_from_if_ours(
    client: Any, alice: Any, mallory: Any, plat: Any, vm_catalog: Any
) -> None:
    flow = vm_catalog["hetzner-vm"]
    created = ResourceRequest.objects.create(
        requester=alice, catalog_flow=flow, flow_source="", flow_revision="x", cost_center=plat
    )
    resource = Resource.objects.create(
        kind="hcloud-server",
        name="db-1",
        owner=alice,
        cost_center=plat,
        request=created,
        namespace=flow.namespace,
        state=ResourceState.DESTROYED,
        actions={"destroy": "hetzner-vm-destroy"},
    )
    action = reverse("resources:action", args=[resource.pk, "destroy"])
    detail = reverse("resources:detail", args=[resource.pk])
    client.force_login(alice)  # hers, but already destroyed: refused (someone else's would be a 404)

    back = client.post(action, {"action": "destroy", "next": detail})
    away = client.post(action, {"action": "destroy", "next": "https://evil.example/phish"})

    assert back.status_code == 302 and back["Location"] == detail
    assert away.status_code == 302 and away["Location"] == reverse("resources:list")
    assert not ResourceRequest.objects.exclude(pk=created.pk).exists()
