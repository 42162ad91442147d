"""Day-2 actions only through the resource, identifiers from the database, names not reused, destroys that
fail loudly, and an execution tied to its request by a foreign key (issue 10's reproductions).

The end-to-end tests run the real flows from flows/ on a real Celery worker against the Hetzner API fake.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hcloud_fake import HcloudFake
from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.state.models import Execution
from portal.accounts.models import CostCenter, User
from portal.approvals import services as approvals
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests import services as request_services
from portal.requests.models import RequestExecution, RequestState, ResourceRequest
from portal.resources import services
from portal.resources.models import Resource, ResourceAction, ResourceState
from tests.conftest import wait_for
from tests.fakes.hcloud_fake import hcloud_fake  # noqa: F401  (fixture)

from .conftest import VALID_INPUTS
from .test_resources import (  # noqa: F401  (fake, vm_catalog: fixtures)
    SSH_KEY,
    approve,
    fake,
    finished,
    provision,
    request_vm,
    vm_catalog,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_second_requester_cannot_destroy_someone_elses_server_from_the_flow_form(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    mallory: User,
    plat: CostCenter,
) -> None:
    """The issue's reproduction: mallory posts hetzner-vm-destroy with alice's ids."""
    resource = provision(client, alice, bob, plat)
    plat.members.add(mallory)
    client.force_login(mallory)
    url = reverse("requests:new", args=["portico.infra", "hetzner-vm-destroy"])
    ids = {"resource_id": resource.pk, "server_id": resource.provider_id, "cost_center": plat.pk}

    form = client.get(url)
    posted = client.post(url, ids)
    terraform = client.post(
        reverse("requests:new", args=["portico.infra", "hetzner-vm-terraform-destroy"]),
        {"resource_id": resource.pk, "name": resource.name, "cost_center": plat.pk},
    )
    page = client.post(reverse("resources:action", args=[resource.pk, "destroy"]))

    assert (form.status_code, posted.status_code, terraform.status_code, page.status_code) == (
        404,
        404,
        404,
        404,
    )
    with pytest.raises(request_services.RequestNotAllowed, match="resource's page"):
        request_services.submit_request(
            requester=mallory, catalog_flow=vm_catalog["hetzner-vm-destroy"], data=ids, cost_center=plat
        )
    assert not ResourceRequest.objects.filter(requester=mallory).exists()
    resource.refresh_from_db()
    assert resource.state == ResourceState.RUNNING and len(fake.cloud.servers) == 1


def test_the_resource_page_fills_in_its_own_identifiers_and_refuses_others(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    resource = provision(client, alice, bob, plat)

    with pytest.raises(InputsInvalid) as refused:
        services.do_request_action(resource.pk, "destroy", acting_user=alice, data={"server_id": "999"})
    destroy = services.do_request_action(resource.pk, "destroy", acting_user=alice)

    assert set(refused.value.errors) == {"server_id"}
    facts = {"resource_id": resource.pk, "server_id": int(resource.provider_id), "name": "web-1"}
    assert destroy.inputs == facts
    assert ResourceAction.objects.get(request=destroy).resource == resource
    client.force_login(bob)  # the approver sees what will be destroyed, with a link to it
    for page in (reverse("approvals:queue"), reverse("requests:detail", args=[destroy.pk])):
        html = client.get(page).content.decode()
        assert (
            'data-testid="action-target"' in html and reverse("resources:detail", args=[resource.pk]) in html
        )
        assert resource.name in html and resource.ipv4 in html and "alice" in html
        assert f"€{resource.monthly_cost:.2f}" in html
    approve(destroy, bob)
    assert finished(destroy).state == RequestState.SUCCEEDED
    resource.refresh_from_db()
    assert resource.state == ResourceState.DESTROYED and fake.cloud.servers == {}


def test_a_destroy_that_finds_nothing_fails_loudly_and_needs_attention(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    resource = provision(client, alice, bob, plat)
    fake.cloud.servers.clear()  # deleted behind Portico's back

    destroy = services.do_request_action(resource.pk, "destroy", acting_user=alice)
    approve(destroy, bob)

    destroy = finished(destroy)
    assert destroy.state == RequestState.FAILED
    resource.refresh_from_db()
    assert resource.state == ResourceState.ATTENTION  # neither "Running" nor "Destroyed"
    assert resource.is_live  # the destroy can be asked for again
    assert "nothing to destroy" in " ".join(destroy.execution.logs.values_list("message", flat=True))


def test_a_terraform_destroy_with_an_empty_state_fails_and_needs_attention(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    request = request_vm(client, alice, plat, flow_id="hetzner-vm-terraform", name="tf-2")
    approve(request, bob)
    assert finished(request).state == RequestState.SUCCEEDED
    resource = Resource.objects.get(request=request)
    assert resource.state_key == f"hcloud-request-{request.pk}"
    Resource.objects.filter(pk=resource.pk).update(state_key="hcloud-request-0")  # a state holding nothing

    destroy = services.do_request_action(resource.pk, "destroy", acting_user=alice)
    approve(destroy, bob)

    assert finished(destroy).state == RequestState.FAILED
    resource.refresh_from_db()
    assert resource.state == ResourceState.ATTENTION


def test_a_name_used_by_a_live_server_is_refused_on_the_form(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    mallory: User,
    plat: CostCenter,
) -> None:
    """The issue's reproduction: requesting hetzner-vm-terraform with an existing server's name."""
    resource = provision(client, alice, bob, plat)
    plat.members.add(mallory)
    client.force_login(mallory)
    url = reverse("requests:new", args=["portico.infra", "hetzner-vm-terraform"])
    form = {
        "name": resource.name,
        "server_type": "cx22",
        "image": "ubuntu-24.04",
        "location": "nbg1",
        "ssh_public_key": SSH_KEY,
        "lifetime": "7",
        "cost_center": plat.pk,
    }

    response = client.post(url, form)

    assert response.status_code == 400
    assert f"already named &#x27;{resource.name}&#x27;" in response.content.decode()
    assert not ResourceRequest.objects.filter(requester=mallory).exists()
    assert client.post(url, {**form, "name": "fresh-name"}).status_code == 302


LABELS_FLOW = """\
id: relabel
namespace: portico.tests
description: Rewrites the request label to another request's id.
labels:
  portico.approval: none
tasks:
  - id: relabel
    type: io.kestra.plugin.core.execution.Labels
    labels:
      portico.request: "{{ inputs.other }}"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
inputs:
  - id: other
    type: STRING
"""


def test_a_labels_task_rewriting_the_request_label_changes_nothing(
    celery_worker: Any, tmp_path: Any, alice: User, plat: CostCenter, catalog: Any
) -> None:
    directory = tmp_path / "relabel"
    directory.mkdir()
    (directory / "relabel.yml").write_text(LABELS_FLOW)
    assert sync_flows(directory).ok
    flow = CatalogFlow.objects.get(flow_id="relabel")
    victim = request_services.submit_request(
        requester=alice, catalog_flow=catalog["quick"], data={}, cost_center=plat
    )
    victim = wait_until(
        lambda: ResourceRequest.objects.filter(pk=victim.pk, state=RequestState.SUCCEEDED).first(), "victim"
    )

    request = request_services.submit_request(
        requester=alice, catalog_flow=flow, data={"other": str(victim.pk)}, cost_center=plat
    )
    execution = wait_for(Execution.objects.get(pk=request.execution_id))

    assert execution.labels["portico.request"] == str(victim.pk)  # the label moved...
    request.refresh_from_db()
    victim.refresh_from_db()
    assert request.state == RequestState.FAILED  # ...the request still follows its own execution
    assert victim.state == RequestState.SUCCEEDED and victim.execution_id != execution.pk
    assert RequestExecution.objects.get(execution=execution).request == request


def test_the_service_checks_the_role_and_the_cost_center(
    catalog: Any, alice: User, charlie: User, plat: CostCenter, data_cc: CostCenter
) -> None:
    with pytest.raises(request_services.RequestForbidden, match="requester role"):
        request_services.submit_request(
            requester=charlie, catalog_flow=catalog["quick"], data={}, cost_center=plat
        )
    with pytest.raises(request_services.RequestForbidden, match="DATA-002"):
        request_services.submit_request(
            requester=alice, catalog_flow=catalog["quick"], data={}, cost_center=data_cc
        )
    data_cc.member_groups.add(*alice.groups.all())  # a group membership is a membership
    assert request_services.submit_request(
        requester=alice, catalog_flow=catalog["quick"], data={}, cost_center=data_cc
    ).pk


def test_a_scoped_approver_decides_only_on_their_cost_centers(
    catalog: Any, alice: User, charlie: User, plat: CostCenter, data_cc: CostCenter
) -> None:
    request = request_services.submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=_valid(), cost_center=plat
    )
    data_cc.approvers.add(charlie)

    with pytest.raises(approvals.OutOfScopeError):
        approvals.approve(request.pk, acting_user=charlie)
    plat.approvers.add(charlie)
    assert approvals.approve(request.pk, acting_user=charlie).state != RequestState.PENDING_APPROVAL


def _valid() -> dict[str, Any]:
    return dict(VALID_INPUTS)
