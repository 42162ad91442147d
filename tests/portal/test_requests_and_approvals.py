"""Submitting, approving and rejecting requests through the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.flowmodel.masking import MASK
from orchestrator.flowmodel.secrets_at_rest import reveal
from orchestrator.state.models import Execution
from portal.approvals import selectors as approval_selectors
from portal.approvals import services as approvals
from portal.approvals.models import Decision, Outcome
from portal.audit.models import AuditEvent
from portal.audit.verification import verify_chain
from portal.requests.models import RequestState
from portal.requests.services import submit_request

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(catalog, alice, plat):
    return submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )


def test_it_records_a_pending_request_with_secrets_apart(pending, catalog):
    assert pending.state == RequestState.PENDING_APPROVAL
    assert pending.flow_revision == catalog["all-inputs"].revision
    assert pending.flow_source == catalog["all-inputs"].source
    assert pending.inputs["count"] == 2 and "token" not in pending.inputs
    assert reveal(pending.secret_inputs) == {"token": "s3cr3t-value"}  # stored encrypted
    assert "s3cr3t-value" not in str(pending.secret_inputs)
    assert pending.execution is None


def test_it_audits_the_request_with_secrets_masked(pending):
    event = AuditEvent.objects.get(verb="request.submitted")
    assert event.actor.username == "alice" and event.cost_center.code == "PLAT-001"
    assert (event.flow_namespace, event.flow_id) == ("portico.tests", "all-inputs")
    assert event.target_id == str(pending.pk)
    assert event.details["inputs"]["token"] == MASK
    assert "s3cr3t-value" not in str(event.details)


def test_it_refuses_invalid_inputs_and_records_nothing(catalog, alice, plat):
    with pytest.raises(InputsInvalid) as exc:
        submit_request(
            requester=alice, catalog_flow=catalog["all-inputs"], data={"name": "X"}, cost_center=plat
        )
    assert {"name", "owner", "token"} <= set(exc.value.errors)
    assert not AuditEvent.objects.filter(verb__startswith="request.").exists()


def test_it_approves_and_starts_the_execution_with_secrets(pending, bob):
    request = approvals.approve(pending.pk, acting_user=bob, comment="ok")
    assert request.state in (RequestState.APPROVED, RequestState.RUNNING)
    assert request.decided_at is not None
    decision = Decision.objects.get(request=request)
    assert decision.outcome == Outcome.APPROVED and decision.approver == bob and decision.comment == "ok"
    execution = Execution.objects.get(pk=request.execution_id)
    assert reveal(execution.inputs["token"]) == "s3cr3t-value" and execution.inputs["count"] == 2
    assert "s3cr3t-value" not in str(execution.inputs)  # the request's ciphertext, carried over
    assert execution.labels["portico.request"] == str(request.pk)
    assert execution.flow_source == pending.flow_source
    approved = AuditEvent.objects.get(verb="request.approved")
    assert approved.actor == bob and approved.details["comment"] == "ok"
    assert approved.details["inputs"]["token"] == MASK
    assert verify_chain() == (True, None)


def test_it_rejects_without_running_and_drops_the_secret(pending, bob):
    request = approvals.reject(pending.pk, acting_user=bob, comment="too big")
    assert request.state == RequestState.REJECTED and request.execution is None
    assert request.secret_inputs == {}
    assert Decision.objects.get(request=request).outcome == Outcome.REJECTED
    assert not Execution.objects.exists()
    assert AuditEvent.objects.filter(verb="request.rejected", actor=bob).exists()


def test_it_refuses_self_approval(catalog, bob, plat):
    own = submit_request(
        requester=bob, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )
    with pytest.raises(approvals.SelfApprovalError):
        approvals.approve(own.pk, acting_user=bob)
    own.refresh_from_db()
    assert own.state == RequestState.PENDING_APPROVAL and not Decision.objects.exists()


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_it_refuses_a_second_decision(pending, bob, charlie, second):
    approvals.reject(pending.pk, acting_user=bob)
    with pytest.raises(approvals.DecisionError, match="rejected, not pending approval"):
        getattr(approvals, second)(pending.pk, acting_user=charlie)
    assert Decision.objects.count() == 1
    assert not Execution.objects.exists()


def test_it_refuses_a_non_approver(pending, mallory):
    with pytest.raises(PermissionDenied):
        approvals.approve(pending.pk, acting_user=mallory)
    assert not Decision.objects.exists()


def test_it_lets_a_superuser_approve(pending, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    assert approvals.approve(pending.pk, acting_user=root).execution_id is not None


def test_it_auto_approves_flows_without_approval(catalog, alice, plat):
    request = submit_request(requester=alice, catalog_flow=catalog["quick"], data={}, cost_center=plat)
    assert request.state in (RequestState.APPROVED, RequestState.RUNNING)
    assert request.execution is not None and request.execution.inputs == {"name": "world"}
    assert Decision.objects.get(request=request).outcome == Outcome.AUTO_APPROVED
    verbs = AuditEvent.objects.filter(verb__startswith="request.").order_by("id")
    assert list(verbs.values_list("verb", flat=True))[:2] == [
        "request.submitted",
        "request.auto_approved",
    ]


def test_it_queues_pending_requests_oldest_first_with_secrets_masked(pending, catalog, bob, charlie, plat):
    later = submit_request(
        requester=bob, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )
    submit_request(requester=bob, catalog_flow=catalog["quick"], data={}, cost_center=plat)  # auto-approved

    queue = approval_selectors.queue()

    assert [request.pk for request, _ in queue] == [pending.pk, later.pk]
    assert queue[0][1]["Token"] == MASK and queue[0][1]["Name"] == "web-1"  # by display name
    assert approval_selectors.pending_count() == 2
    approvals.reject(later.pk, acting_user=charlie)
    assert approval_selectors.pending_count() == 1
