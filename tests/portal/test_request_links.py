"""Execution ↔ request by foreign key: the data migration from the old label, replays, the scoped queue."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps

from orchestrator.state.models import Execution, State
from portal.accounts.models import CostCenter, User
from portal.approvals import selectors as approval_selectors
from portal.requests import links
from portal.requests.models import RequestExecution, ResourceRequest
from portal.requests.services import REQUEST_LABEL

from .conftest import QUICK_FLOW

pytestmark = pytest.mark.django_db

links_migration = importlib.import_module("portal.requests.migrations.0003_request_permission_executions")


def _request(catalog: Any, requester: User, cost_center: CostCenter) -> ResourceRequest:
    return ResourceRequest.objects.create(
        requester=requester,
        catalog_flow=catalog["quick"],
        flow_source=QUICK_FLOW,
        flow_revision="x",
        cost_center=cost_center,
    )


def _execution(**fields: Any) -> Execution:
    return Execution.objects.create(
        namespace="portico.tests", flow_id="quick", flow_revision="x", flow_source=QUICK_FLOW, **fields
    )


def test_the_migration_turns_request_labels_into_links(catalog: Any, alice: User, plat: CostCenter) -> None:
    request = _request(catalog, alice, plat)
    labelled = _execution(labels={REQUEST_LABEL: str(request.pk)})
    dangling = _execution(labels={REQUEST_LABEL: "999999"})
    child = _execution(labels={REQUEST_LABEL: str(request.pk)}, parent=labelled)

    links_migration.links_from_labels(apps, None)

    assert RequestExecution.objects.get(execution=labelled).request == request
    assert not RequestExecution.objects.filter(execution__in=[dangling, child]).exists()
    assert links.request_of(child) == request  # a subflow's run is found through its parent


def test_a_replay_belongs_to_the_request_of_its_original(catalog: Any, alice: User, plat: CostCenter) -> None:
    request = _request(catalog, alice, plat)
    first = _execution(state=State.FAILED)
    RequestExecution.objects.create(request=request, execution=first)
    replay = _execution(original=first, labels={REQUEST_LABEL: "12345"})  # the label says nothing

    assert links.request_of(replay) == request
    assert links.descends_from(replay, first.pk) and not links.descends_from(first, replay.pk)
    assert links.request_of(_execution(labels={REQUEST_LABEL: str(request.pk)})) is None


def test_the_queue_of_a_scoped_approver_holds_only_their_cost_centers(
    catalog: Any, alice: User, charlie: User, plat: CostCenter, data_cc: CostCenter
) -> None:
    on_plat = _request(catalog, alice, plat)
    on_data = _request(catalog, alice, data_cc)

    everything = set(approval_selectors.pending_requests(charlie))
    data_cc.approvers.add(charlie)
    scoped = set(approval_selectors.pending_requests(charlie))

    assert everything == {on_plat, on_data} and scoped == {on_data}
    assert approval_selectors.pending_count(alice) == 0  # not an approver... and her own are left out
