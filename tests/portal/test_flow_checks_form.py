"""A flow's ``checks`` on the request form: a blocking check stops the request and the person reads why."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from portal.approvals import services as approvals
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests.models import RequestState, ResourceRequest

pytestmark = pytest.mark.django_db

GUARDED_FLOW = """\
id: guarded
namespace: portico.tests
inputs:
  - id: size
    type: STRING
    defaults: small
checks:
  - condition: "{{ inputs.size != 'huge' }}"
    message: "Huge servers need a ticket with the platform team"
    style: ERROR
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "size {{ inputs.size }}"
"""


@pytest.fixture
def guarded(tmp_path: Path) -> CatalogFlow:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "guarded.yml").write_text(GUARDED_FLOW)
    report = sync_flows(directory)
    assert report.ok, report.errors
    return CatalogFlow.objects.get(flow_id="guarded")


def test_it_shows_a_blocking_check_message_on_the_form_and_records_nothing(client, guarded, alice, plat):
    client.force_login(alice)
    url = reverse("requests:new", args=["portico.tests", "guarded"])

    response = client.post(url, {"size": "huge", "cost_center": plat.pk})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Huge servers need a ticket with the platform team" in page
    assert not ResourceRequest.objects.exists()

    allowed = client.post(url, {"size": "small", "cost_center": plat.pk})
    assert allowed.status_code == 302
    assert ResourceRequest.objects.count() == 1


def test_a_check_that_blocks_at_approval_leaves_the_request_pending_with_the_reason(
    client, guarded, alice, bob, plat
):
    client.force_login(alice)
    client.post(
        reverse("requests:new", args=["portico.tests", "guarded"]), {"size": "small", "cost_center": plat.pk}
    )
    request = ResourceRequest.objects.get()
    # What the checks read changed between submit and approval (they may read time or KV).
    ResourceRequest.objects.filter(pk=request.pk).update(inputs={"size": "huge"})

    with pytest.raises(approvals.DecisionError, match="Huge servers need a ticket"):
        approvals.approve(request.pk, acting_user=bob, comment="ok")
    request.refresh_from_db()
    assert request.state == RequestState.PENDING_APPROVAL and request.execution_id is None
