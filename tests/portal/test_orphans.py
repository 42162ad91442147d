"""Nothing orphaned (issue 10, part 3): a server is recorded the moment its id is known, a killed or failed
creating run leaves a resource that needs attention (with who killed it), and the drift sweep compares
the inventory with the Hetzner API and the Terraform states.

Real flows from flows/ on a real Celery worker against the local Hetzner API fake.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hcloud_fake import HcloudFake
from orchestrator.plugins.hcloud import tasks as hcloud_tasks
from portal.accounts.models import CostCenter, User
from portal.audit.models import AuditEvent
from portal.executions import services as executions
from portal.requests.models import RequestState, ResourceRequest
from portal.resources import drift, services
from portal.resources.models import Resource, ResourceState
from tests.fakes.hcloud_fake import (
    client_for,
    hcloud_fake,  # noqa: F401  (fixture)
)

from .test_resources import (  # noqa: F401  (fake, vm_catalog: fixtures)
    approve,
    fake,
    finished,
    provision,
    request_vm,
    vm_catalog,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _provisioning(request: ResourceRequest) -> Resource:
    return wait_until(
        lambda: Resource.objects.filter(request=request, state=ResourceState.PROVISIONING)
        .exclude(provider_id="")
        .first(),
        "the resource recorded while its server starts",
    )


def _slow_actions(cloud_fake: HcloudFake, on: bool) -> None:
    """Server actions stay "running" (the server is made, then never finishes starting) or not."""
    actions = cloud_fake.cloud.actions
    actions.polls, actions.seconds = (10**6, 120.0) if on else (1, None)


def _attention(resource: Resource) -> Resource:
    return wait_until(
        lambda: Resource.objects.filter(pk=resource.pk, state=ResourceState.ATTENTION).first(),
        "the resource to need attention",
    )


def test_a_killed_run_leaves_its_server_recorded_needing_attention_and_one_click_from_destroy(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
    mailoutbox: Any,
) -> None:
    _slow_actions(fake, on=True)
    request = request_vm(client, alice, plat)
    approve(request, bob)

    resource = _provisioning(request)  # recorded before the flow ended: the id is known
    assert int(resource.provider_id) in fake.cloud.servers
    assert (resource.owner, resource.name) == (alice, "web-1")
    client.force_login(alice)
    page = client.get(reverse("resources:detail", args=[resource.pk])).content.decode()
    assert "Being created" in page and 'value="destroy"' not in page  # no day-2 action mid-creation

    request.refresh_from_db()
    assert executions.kill(request.execution_id, acting_user=bob)
    resource = _attention(resource)
    assert "killed by bob" in resource.attention
    assert int(resource.provider_id) in fake.cloud.servers  # still at the provider, still ours
    logs = list(request.execution.logs.values_list("message", flat=True))
    assert "Execution killed by bob" in logs
    assert AuditEvent.objects.filter(verb="resource.needs_attention", target_id=str(resource.pk)).exists()
    mail = wait_until(lambda: [m for m in mailoutbox if "needs your attention" in m.subject], "the email")
    assert mail[0].to == [alice.email] and "killed by bob" in mail[0].body
    assert "&#x27;" not in mail[0].subject + mail[0].body

    page = client.get(reverse("resources:detail", args=[resource.pk])).content.decode()
    assert 'data-testid="attention"' in page and 'value="destroy"' in page
    assert 'value="extend"' not in page  # only the destroy makes sense now
    with pytest.raises(services.ActionNotAllowed):
        services.do_request_action(resource.pk, "extend", acting_user=alice, data={"days": 3})

    _slow_actions(fake, on=False)
    destroy = services.do_request_action(resource.pk, "destroy", acting_user=alice)
    approve(destroy, bob)
    assert finished(destroy).state == RequestState.SUCCEEDED
    resource.refresh_from_db()
    assert resource.state == ResourceState.DESTROYED and resource.attention == ""
    assert fake.cloud.servers == {}


def test_a_failed_creating_run_leaves_the_server_needing_attention(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    # The server is made, then every read of it is refused: the task (and its retries) fail after it.
    fake.fail_next(403, "forbidden", times=100, method="GET", path="/servers/{id}")
    request = request_vm(client, alice, plat)
    approve(request, bob)
    assert finished(request).state == RequestState.FAILED
    resource = Resource.objects.get(request=request)
    assert resource.state == ResourceState.ATTENTION and "ended failed" in resource.attention
    assert int(resource.provider_id) in fake.cloud.servers


def test_a_server_id_that_names_another_server_is_refused(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    resource = provision(client, alice, bob, plat)
    Resource.objects.filter(pk=resource.pk).update(name="someone-else")  # the record and the server disagree
    destroy = services.do_request_action(resource.pk, "destroy", acting_user=alice)
    approve(destroy, bob)
    destroy = finished(destroy)
    assert destroy.state == RequestState.FAILED
    assert int(resource.provider_id) in fake.cloud.servers  # untouched
    messages = " ".join(destroy.execution.logs.values_list("message", flat=True))
    assert "is named 'web-1', not 'someone-else'" in messages


def test_the_sweep_flags_a_server_deleted_outside_portico_and_one_destroyed_but_still_there(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
    mailoutbox: Any,
) -> None:
    kept = provision(client, alice, bob, plat)
    gone = provision_named(client, alice, bob, plat, "web-2")
    report = drift.sweep()
    assert sorted(report.checked) == sorted([kept.pk, gone.pk]) and report.flagged == []
    assert Resource.objects.get(pk=kept.pk).checked_at is not None

    del fake.cloud.servers[int(gone.provider_id)]  # deleted in Hetzner's console
    Resource.objects.filter(pk=kept.pk).update(state=ResourceState.DESTROYED)  # Portico thinks it is gone
    report = drift.sweep()
    assert sorted(report.flagged) == sorted([kept.pk, gone.pk])
    assert "no longer exists at Hetzner" in Resource.objects.get(pk=gone.pk).attention
    assert "still exists at Hetzner" in Resource.objects.get(pk=kept.pk).attention
    assert drift.sweep().flagged == []  # told once, not at every sweep
    events = AuditEvent.objects.filter(verb="resource.drift_found").count()
    assert events == 2


def test_the_sweep_records_an_orphan_server_for_the_request_that_made_it(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    resource = provision(client, alice, bob, plat)
    request = resource.request
    Resource.objects.filter(pk=resource.pk).delete()  # as if the run died before announcing it
    api = client_for(fake)
    stray = api.servers.create(
        name="stray-1",
        server_type=hcloud_tasks.ServerType(name="cx22"),
        image=hcloud_tasks.Image(name="ubuntu-24.04"),
        labels={"managed-by": "portico"},
    ).server

    report = drift.sweep()
    adopted = Resource.objects.get(request=request)
    assert adopted.state == ResourceState.ATTENTION and adopted.owner == alice
    assert adopted.provider_id == resource.provider_id and "never reported it" in adopted.attention
    # (other tests' Terraform states may share a PostgreSQL test database: only servers are compared)
    assert [u for u in report.unowned if u.startswith("hcloud:")] == [f"hcloud:{stray.id}"]
    found = AuditEvent.objects.filter(verb="provider.orphan_found", details__what=f"hcloud:{stray.id}")
    assert found.count() == 1
    drift.sweep()
    assert found.count() == 1  # once a day


def test_the_sweep_judges_nothing_when_the_provider_cannot_be_listed(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
    settings: Any,
) -> None:
    resource = provision(client, alice, bob, plat)
    settings.HCLOUD_TOKEN = "wrong-token"
    report = drift.sweep()
    assert report.errors and report.flagged == []
    assert Resource.objects.get(pk=resource.pk).state == ResourceState.RUNNING


def test_the_sweep_flags_an_emptied_terraform_state_and_reports_an_unowned_one(
    client: Any,
    fake: HcloudFake,  # noqa: F811
    vm_catalog: Any,  # noqa: F811
    alice: User,
    bob: User,
    plat: CostCenter,
) -> None:
    request = request_vm(client, alice, plat, flow_id="hetzner-vm-terraform", name="tf-9")
    approve(request, bob)
    assert finished(request).state == RequestState.SUCCEEDED
    resource = Resource.objects.get(request=request)
    assert drift.sweep().checked.count(resource.pk) == 1

    Resource.objects.filter(pk=resource.pk).update(state_key="hcloud-request-0")  # a state holding nothing
    report = drift.sweep()
    assert resource.pk in report.flagged
    assert "holds nothing" in Resource.objects.get(pk=resource.pk).attention
    assert f"terraform:hcloud-request-{request.pk}" in report.unowned  # the real state, now nobody's


def provision_named(client: Any, alice: Any, bob: Any, plat: Any, name: str) -> Resource:
    request = request_vm(client, alice, plat, name=name)
    approve(request, bob)
    assert finished(request).state == RequestState.SUCCEEDED
    return Resource.objects.get(request=request)
