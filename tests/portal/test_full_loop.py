"""End to end with a real Celery worker: submit, approve, run, finish, see the log, get the emails."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django.urls import reverse

from orchestrator.state.models import Execution
from portal.approvals import services as approvals
from portal.approvals.models import Decision
from portal.audit.models import AuditEvent
from portal.audit.verification import verify_chain
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import submit_request
from tests.conftest import wait_for

from .conftest import VALID_INPUTS

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_until(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def test_it_runs_a_request_from_submit_to_succeeded(
    client, celery_worker, catalog, alice, bob, plat, mailoutbox
):
    client.force_login(alice)
    response = client.post(
        reverse("requests:new", args=["portico.tests", "all-inputs"]),
        {**VALID_INPUTS, "cost_center": plat.pk},
    )
    assert response.status_code == 302
    request = ResourceRequest.objects.get()

    client.force_login(bob)
    client.post(reverse("approvals:decide", args=[request.pk]), {"decision": "approve", "comment": "go"})
    request.refresh_from_db()
    assert request.execution_id is not None
    wait_for(request.execution)
    request = _wait_until(
        lambda: ResourceRequest.objects.filter(pk=request.pk, state=RequestState.SUCCEEDED).first(),
        what="request SUCCEEDED",
    )
    assert request.secret_inputs == {} and request.finished_at is not None

    client.force_login(alice)
    partial = client.get(reverse("requests:live", args=[request.pk])).content.decode()
    assert "Provisioning web-1 x2" in partial
    assert "hello" in partial and "SUCCESS" in partial and "Succeeded" in partial
    assert "hx-trigger" not in partial  # polling stops once finished

    events = AuditEvent.objects.filter(target_id=str(request.pk)).order_by("id")
    verbs = list(events.values_list("verb", flat=True))
    assert verbs == ["request.submitted", "request.approved", "execution.started", "execution.finished"]
    assert verify_chain() == (True, None)

    mails = _wait_until(
        lambda: (m := [x for x in mailoutbox if f"#{request.pk}" in x.subject]) and len(m) >= 3 and m,
        what="three emails",
    )
    assert [m.to for m in mails] == [["bob@example.com"], ["alice@example.com"], ["alice@example.com"]]
    assert "succeeded" in mails[2].subject.lower()


def test_it_gives_exactly_one_decision_to_racing_approvers(celery_worker, catalog, alice, bob, charlie, plat):
    request = submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(user) -> None:
        try:
            barrier.wait()
            approvals.approve(request.pk, acting_user=user)
            outcomes[user.username] = "approved"
        except approvals.DecisionError:
            outcomes[user.username] = "refused"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[user.username] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(u,)) for u in (bob, charlie)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["approved", "refused"], outcomes
    assert Decision.objects.count() == 1
    assert Execution.objects.count() == 1
    assert AuditEvent.objects.filter(verb="request.approved").count() == 1
    wait_for(Execution.objects.get())
    assert verify_chain() == (True, None)


def test_it_runs_a_flow_without_approval_straight_away(client, celery_worker, catalog, alice, plat):
    client.force_login(alice)
    response = client.post(
        reverse("requests:new", args=["portico.tests", "quick"]), {"name": "Portico", "cost_center": plat.pk}
    )
    request = ResourceRequest.objects.get()
    assert response["Location"] == reverse("requests:detail", args=[request.pk])
    _wait_until(
        lambda: ResourceRequest.objects.filter(pk=request.pk, state=RequestState.SUCCEEDED).exists(),
        what="request SUCCEEDED",
    )
    assert "Hello Portico" in client.get(reverse("requests:live", args=[request.pk])).content.decode()
    assert AuditEvent.objects.filter(verb="request.auto_approved", target_id=str(request.pk)).exists()
