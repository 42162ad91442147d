"""Emails leave after commit, from the Celery task, rendered from templates/email/."""

from __future__ import annotations

from functools import partial

import pytest

from orchestrator.state.models import State
from portal.approvals import services as approvals
from portal.notifications.services import SEND_REQUEST_EMAIL
from portal.notifications.tasks import send_request_email_task
from portal.requests.services import submit_request, sync_request_with_execution

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db


def _deliver(callbacks) -> list[tuple]:
    """Run the notification tasks queued on commit (as a worker would) and return their arguments."""
    sent = []
    for callback in callbacks:
        if isinstance(callback, partial) and callback.args == (SEND_REQUEST_EMAIL,):
            args = callback.keywords["args"]
            send_request_email_task.apply(args=args)
            sent.append(args)
    return sent


def _submit(catalog, user, cost_center):
    return submit_request(
        requester=user, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=cost_center
    )


def test_it_emails_the_approvers_but_not_the_requester_on_submit(
    catalog, alice, bob, charlie, plat, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        request = _submit(catalog, alice, plat)
        assert mailoutbox == []  # nothing before commit
    assert _deliver(callbacks) == [("requested", request.pk)]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert sorted(message.to) == ["bob@example.com", "charlie@example.com"]
    assert f"#{request.pk}" in message.subject and "alice" in message.subject
    assert "/approvals/" in message.body and "s3cr3t-value" not in message.body


def test_it_does_not_email_an_approver_about_their_own_request(
    catalog, bob, charlie, plat, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        _submit(catalog, bob, plat)
    _deliver(callbacks)
    assert mailoutbox[0].to == ["charlie@example.com"]


@pytest.mark.parametrize(("action", "word"), [("approve", "approved"), ("reject", "rejected")])
def test_it_emails_the_requester_on_decision(
    catalog, alice, bob, plat, mailoutbox, django_capture_on_commit_callbacks, action, word
):
    request = _submit(catalog, alice, plat)
    with django_capture_on_commit_callbacks() as callbacks:
        getattr(approvals, action)(request.pk, acting_user=bob, comment="see notes")
    assert ("decided", request.pk) in _deliver(callbacks)
    message = mailoutbox[-1]
    assert message.to == ["alice@example.com"]
    assert word in message.subject and "see notes" in message.body
    assert f"/requests/{request.pk}/" in message.body


def test_it_emails_the_requester_when_the_execution_finishes_and_clears_secrets(
    catalog, alice, bob, plat, mailoutbox, django_capture_on_commit_callbacks
):
    request = approvals.approve(_submit(catalog, alice, plat).pk, acting_user=bob)
    execution = request.execution
    with django_capture_on_commit_callbacks() as callbacks:
        sync_request_with_execution(execution, State.RUNNING)
        sync_request_with_execution(execution, State.FAILED)
    assert _deliver(callbacks) == [("finished", request.pk)]
    request.refresh_from_db()
    assert request.state == "FAILED" and request.secret_inputs == {} and request.finished_at
    message = mailoutbox[-1]
    assert message.to == ["alice@example.com"] and "failed" in message.subject.lower()


def test_it_sends_nothing_when_the_transaction_rolls_back(
    catalog, alice, bob, plat, mailoutbox, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                _submit(catalog, alice, plat)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert _deliver(callbacks) == []
    assert mailoutbox == []
