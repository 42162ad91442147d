"""Approval policies: labels and admin policies, quorum, a second approver over a cost threshold,
required reject comments, delegation, deadlines swept by the beat task, and emailed decision links."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.accounts.roles import APPROVERS
from portal.approvals import email_links, policies
from portal.approvals import selectors as approval_selectors
from portal.approvals import services as approvals
from portal.approvals.deadlines import SEND_LINK_EMAILS
from portal.approvals.models import (
    Approval,
    ApprovalPolicy,
    Decision,
    Delegation,
    EmailLinkUse,
    Outcome,
    RequestPolicy,
)
from portal.approvals.tasks import send_link_emails_task, sweep_deadlines_task
from portal.approvals.views import email_confirm
from portal.audit.models import AuditEvent
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.notifications.models import Notification
from portal.notifications.services import SEND_REQUEST_EMAIL
from portal.notifications.tasks import send_request_email_task
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import submit_request
from portal.resources.models import RequestEstimate

from .conftest import VALID_INPUTS, make_user

pytestmark = pytest.mark.django_db

POLICY_FLOW = """\
id: two-keys
namespace: portico.tests
labels:
  portico.approval.quorum: "2"
  portico.approval.reject-comment: required
  portico.approval.expire-after: PT1H
  portico.approval.remind-after: PT10M
  portico.approval.escalate-after: PT30M
  portico.approval.escalate-to: managers
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}"
"""


@pytest.fixture
def policy_catalog(catalog: dict[str, CatalogFlow], flows_dir: Path) -> dict[str, CatalogFlow]:
    Group.objects.get_or_create(name="managers")  # the flow's escalation group
    (flows_dir / "two-keys.yml").write_text(POLICY_FLOW)
    report = sync_flows(flows_dir)
    assert report.ok, report.errors
    return {f.flow_id: f for f in CatalogFlow.objects.all()}


@pytest.fixture
def dave(roles: None) -> User:
    return make_user("dave", [APPROVERS])


def _submit(catalog: dict[str, CatalogFlow], flow: str, requester: Any, cost_center: Any) -> ResourceRequest:
    data = {"name": "web-1"} if flow == "two-keys" else dict(VALID_INPUTS)
    return submit_request(requester=requester, catalog_flow=catalog[flow], data=data, cost_center=cost_center)


TASKS = {SEND_REQUEST_EMAIL: send_request_email_task, SEND_LINK_EMAILS: send_link_emails_task}


def _deliver(callbacks: list[Any]) -> None:
    """Run the email tasks queued on commit, as a worker would."""
    for callback in callbacks:
        if isinstance(callback, partial) and callback.args and callback.args[0] in TASKS:
            TASKS[callback.args[0]].apply(args=callback.keywords["args"])


# --- Labels, refused at catalog sync -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ('portico.approval.quorom: "2"', "labels.portico.approval.quorom: unknown approval label"),
        ('portico.approval.quorum: "0"', "labels.portico.approval.quorum: must be a whole number from 1"),
        ("portico.approval.expire-after: tomorrow", "labels.portico.approval.expire-after: must be"),
        ("portico.approval.reject-comment: yes", "labels.portico.approval.reject-comment: must be required"),
        ("portico.approval.escalate-to: managers", "labels.portico.approval.escalate-to: set both"),
    ],
)
def test_catalog_sync_refuses_unknown_or_malformed_approval_labels(
    db: Any, tmp_path: Path, label: str, message: str
) -> None:
    (tmp_path / "bad.yml").write_text(
        f"id: bad\nnamespace: portico.tests\nlabels:\n  {label}\ntasks:\n"
        "  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    report = sync_flows(tmp_path)
    assert not report.ok and report.invalid_files == ["bad.yml"]
    assert any(f"bad.yml:4: {message}" in error for error in report.errors), report.errors
    assert not CatalogFlow.objects.filter(flow_id="bad").exists()


# --- Quorum, any reject rejects, mandatory reject comment ------------------------------------------------


def test_a_quorum_of_two_needs_two_distinct_approvers(policy_catalog, alice, bob, charlie, plat) -> None:
    request = _submit(policy_catalog, "two-keys", alice, plat)
    policy = RequestPolicy.objects.get(request=request)
    assert (policy.quorum, policy.required, policy.source) == (2, 2, "flow labels")

    first = approvals.approve(request.pk, acting_user=bob)
    assert first.state == RequestState.PENDING_APPROVAL and not Decision.objects.exists()
    assert approvals.progress(first) == "has 1 of 2 approvals; it needs another, different approver"
    with pytest.raises(approvals.SelfApprovalError, match="different approver"):
        approvals.approve(request.pk, acting_user=bob)
    decided = approvals.approve(request.pk, acting_user=charlie, comment="fine")

    assert decided.state in (RequestState.APPROVED, RequestState.RUNNING)
    assert Decision.objects.get(request=request).approver == charlie
    assert list(Approval.objects.values_list("approver__username", flat=True)) == ["bob", "charlie"]
    event = AuditEvent.objects.get(verb="request.approved")
    assert event.details["approvers"] == ["bob", "charlie"] and event.details["policy"] == "flow labels"
    assert AuditEvent.objects.filter(verb="request.first_approval", actor=bob).count() == 1


def test_any_reject_rejects_and_the_policy_can_require_a_comment(
    policy_catalog, alice, bob, charlie, plat
) -> None:
    request = _submit(policy_catalog, "two-keys", alice, plat)
    approvals.approve(request.pk, acting_user=bob)
    with pytest.raises(approvals.CommentRequiredError, match="requires a comment"):
        approvals.reject(request.pk, acting_user=charlie, comment="   ")
    assert Approval.objects.count() == 1  # the refused reject left no vote

    rejected = approvals.reject(request.pk, acting_user=charlie, comment="wrong region")
    assert rejected.state == RequestState.REJECTED
    assert Decision.objects.get(request=request).outcome == Outcome.REJECTED


def test_an_admin_policy_limits_deciders_to_its_groups_and_wins_over_labels(
    policy_catalog, alice, bob, charlie, plat
) -> None:
    net = Group.objects.create(name="net-admins")
    policy = ApprovalPolicy.objects.create(name="tests", namespace="portico.*", quorum=1)
    policy.approver_groups.add(net)
    request = _submit(policy_catalog, "two-keys", alice, plat)
    frozen = RequestPolicy.objects.get(request=request)
    assert frozen.quorum == 1 and policies.group_names(frozen) == ["net-admins"]
    assert frozen.source == "admin policy 'tests' + flow labels"
    assert frozen.require_reject_comment  # from the label: the admin policy does not switch it off

    with pytest.raises(approvals.OutOfScopeError, match="not in the approver groups"):
        approvals.approve(request.pk, acting_user=bob)
    assert not Approval.objects.exists()
    assert list(approval_selectors.pending_requests(bob)) == []  # nor is it in bob's queue
    charlie.groups.add(net)
    assert list(approval_selectors.pending_requests(charlie)) == [request]
    assert approvals.approve(request.pk, acting_user=charlie).state != RequestState.PENDING_APPROVAL


def test_the_flows_own_policy_beats_the_longest_namespace_pattern(policy_catalog) -> None:
    flow = policy_catalog["two-keys"]
    ApprovalPolicy.objects.create(name="broad", namespace="portico.*", quorum=3)
    ApprovalPolicy.objects.create(name="narrow", namespace="portico.tests", quorum=4)
    ApprovalPolicy.objects.create(name="other", namespace="portico.testsuite", quorum=5)
    assert policies.admin_policy(flow).name == "narrow"
    ApprovalPolicy.objects.create(name="own", flow=flow, quorum=2)
    assert policies.admin_policy(flow).name == "own"


def test_a_request_above_the_cost_threshold_needs_a_second_approver(
    policy_catalog, alice, bob, charlie, plat
) -> None:
    ApprovalPolicy.objects.create(
        name="costly", flow=policy_catalog["all-inputs"], cost_threshold=Decimal("10.00")
    )
    request = _submit(policy_catalog, "all-inputs", alice, plat)
    # This flow prices nothing: give it the estimate a priced flow gets at submit, then resolve again.
    RequestEstimate.objects.create(request=request, monthly_cost=Decimal("12.50"), currency="EUR")
    RequestPolicy.objects.filter(request=request).delete()
    request = ResourceRequest.objects.get(pk=request.pk)
    frozen = policies.freeze(request)
    assert frozen.second_approval == "above the cost threshold of 10.00 EUR a month" and frozen.required == 2

    assert approvals.approve(request.pk, acting_user=bob).state == RequestState.PENDING_APPROVAL
    with pytest.raises(approvals.SelfApprovalError, match="second, different approver"):
        approvals.approve(request.pk, acting_user=bob)
    assert RequestEstimate.objects.get(request=request).first_approver == bob  # the cost panel shows it
    assert approvals.approve(request.pk, acting_user=charlie).state != RequestState.PENDING_APPROVAL


# --- Delegation -----------------------------------------------------------------------------------------


def test_a_delegate_decides_for_an_away_approver_and_counts_as_them(
    policy_catalog, alice, bob, charlie, mallory, plat
) -> None:
    today = timezone.localdate()
    Delegation.objects.create(approver=bob, delegate=mallory, starts=today, ends=today + timedelta(days=3))
    request = _submit(policy_catalog, "two-keys", alice, plat)

    approvals.approve(request.pk, acting_user=mallory)  # mallory has no approver role of her own
    vote = Approval.objects.get()
    assert (vote.approver, vote.on_behalf_of, vote.counted_for) == (mallory, bob, bob)
    with pytest.raises(approvals.SelfApprovalError):
        approvals.approve(request.pk, acting_user=bob)  # bob's vote is already counted
    assert approvals.approve(request.pk, acting_user=charlie).state != RequestState.PENDING_APPROVAL


def test_an_expired_or_future_delegation_grants_nothing(policy_catalog, alice, bob, mallory, plat) -> None:
    today = timezone.localdate()
    Delegation.objects.create(
        approver=bob, delegate=mallory, starts=today - timedelta(days=9), ends=today - timedelta(days=1)
    )
    Delegation.objects.create(
        approver=bob, delegate=mallory, starts=today + timedelta(days=1), ends=today + timedelta(days=2)
    )
    request = _submit(policy_catalog, "two-keys", alice, plat)
    with pytest.raises(approvals.PermissionDenied):
        approvals.approve(request.pk, acting_user=mallory)
    assert not Approval.objects.exists()


# --- Deadlines through the beat task ----------------------------------------------------------------------


def test_the_beat_task_expires_an_overdue_request_and_tells_the_requester(
    policy_catalog, alice, bob, plat, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    request = _submit(policy_catalog, "two-keys", alice, plat)
    approvals.approve(request.pk, acting_user=bob)
    assert sweep_deadlines_task()["expired"] == []  # not due yet: nothing happens
    created = timezone.now() - timedelta(hours=2)  # submitted two hours ago, with a one-hour deadline
    ResourceRequest.objects.filter(pk=request.pk).update(created=created)
    RequestPolicy.objects.filter(request=request).update(deadline=created + timedelta(hours=1))

    with django_capture_on_commit_callbacks() as callbacks:
        swept = sweep_deadlines_task()
    _deliver(callbacks)

    assert swept["expired"] == [request.pk]
    request.refresh_from_db()
    assert request.state == RequestState.REJECTED and request.secret_inputs == {}
    decision = Decision.objects.get(request=request)
    assert decision.outcome == Outcome.EXPIRED and decision.approver is None
    assert decision.comment == "expired: no decision within 1 hour"
    assert AuditEvent.objects.filter(verb="request.expired", target_id=str(request.pk)).exists()
    mail = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    assert len(mail) == 1 and "was expired" in mail[0].subject
    notice = Notification.objects.get(recipient=alice, verb="decided")
    assert "was expired" in notice.text
    assert sweep_deadlines_task()["expired"] == []  # once only
    with pytest.raises(approvals.DecisionError, match="rejected, not pending"):
        approvals.approve(request.pk, acting_user=bob)


def test_the_beat_task_reminds_once_then_escalates_to_the_fallback_group(
    policy_catalog, alice, bob, charlie, mallory, plat, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    managers = Group.objects.get(name="managers")
    boss = make_user("boss", [], plat)
    boss.groups.add(managers)
    boss.user_permissions.add(*Group.objects.get(name=APPROVERS).permissions.all())
    ApprovalPolicy.objects.create(name="nets", namespace="portico.tests").approver_groups.add(
        Group.objects.create(name="net-admins")
    )
    bob.groups.add(Group.objects.get(name="net-admins"))
    request = _submit(policy_catalog, "two-keys", alice, plat)
    past = timezone.now() - timedelta(seconds=1)
    RequestPolicy.objects.filter(request=request).update(remind_at=past)

    with django_capture_on_commit_callbacks() as callbacks:
        assert sweep_deadlines_task()["reminded"] == [request.pk]
    _deliver(callbacks)
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]  # the group only, not charlie
    assert "Reminder" in mailoutbox[0].subject and "/approvals/email/" in mailoutbox[0].body
    assert Notification.objects.filter(verb="approval_reminder").count() == 1
    assert sweep_deadlines_task()["reminded"] == []  # once

    with pytest.raises(approvals.OutOfScopeError):
        approvals.approve(request.pk, acting_user=boss)  # not before the escalation
    RequestPolicy.objects.filter(request=request).update(escalate_at=past)
    with django_capture_on_commit_callbacks() as callbacks:
        assert sweep_deadlines_task()["escalated"] == [request.pk]
    _deliver(callbacks)
    assert mailoutbox[-1].to == ["boss@example.com"] and "Escalated" in mailoutbox[-1].subject
    assert AuditEvent.objects.filter(verb="request.escalated").count() == 1
    assert approvals.approve(request.pk, acting_user=boss).state == RequestState.PENDING_APPROVAL


def test_the_queue_shows_what_the_policy_still_asks_for(client, policy_catalog, alice, bob, charlie, plat):
    request = _submit(policy_catalog, "two-keys", alice, plat)
    approvals.approve(request.pk, acting_user=bob)
    client.force_login(charlie)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert "needs 2 distinct approvals, approved so far by bob" in page
    assert "a reject needs a comment" in page and "if undecided" in page

    refused = client.post(
        reverse("approvals:decide", args=[request.pk]), {"decision": "reject"}, follow=True
    ).content.decode()
    assert "requires a comment to reject" in refused
    assert ResourceRequest.objects.get(pk=request.pk).state == RequestState.PENDING_APPROVAL


# --- Email links -------------------------------------------------------------------------------------------


def test_an_email_link_shows_a_confirm_page_and_decides_only_on_post_once(
    client, policy_catalog, alice, bob, charlie, plat
) -> None:
    request = _submit(policy_catalog, "two-keys", alice, plat)
    link = email_links.url(request.pk, bob.pk, "approve")
    path = link.removeprefix("http://localhost:8080").split("://", 1)[-1]
    path = path[path.index("/approvals/") :]

    page = client.get(path)
    assert page.status_code == 200 and "Approve request #" in page.content.decode()
    assert not Approval.objects.exists()  # GET changes nothing (scanners open links)

    done = client.post(path, {"comment": "ok from mail"})
    assert done.status_code == 200 and "has 1 of 2 approvals" in done.content.decode()
    vote = Approval.objects.get()
    assert (vote.approver, vote.via, vote.comment) == (bob, "email", "ok from mail")
    assert EmailLinkUse.objects.count() == 1

    again = client.post(path, {"comment": "twice"})
    assert again.status_code == 400 and "already used" in again.content.decode()
    assert Approval.objects.count() == 1


def test_a_refused_email_decision_keeps_the_link_usable(client, policy_catalog, alice, bob, plat) -> None:
    request = _submit(policy_catalog, "two-keys", alice, plat)
    path = reverse("approvals:email_confirm", args=[email_links.make(request.pk, bob.pk, "reject")])
    refused = client.post(path, {"comment": ""})
    assert refused.status_code == 409 and "requires a comment" in refused.content.decode()
    assert not EmailLinkUse.objects.exists()
    assert client.post(path, {"comment": "no budget"}).status_code == 200
    assert ResourceRequest.objects.get(pk=request.pk).state == RequestState.REJECTED


def test_forged_expired_and_foreign_email_links_are_refused(
    client, settings, policy_catalog, alice, bob, charlie, plat
) -> None:
    request = _submit(policy_catalog, "two-keys", alice, plat)
    token = email_links.make(request.pk, bob.pk, "approve")
    forged = signing.dumps({"r": request.pk, "u": bob.pk, "a": "approve", "n": "x"}, salt="other")
    assert client.get(reverse("approvals:email_confirm", args=[forged])).status_code == 400
    assert client.post(reverse("approvals:email_confirm", args=[token + "x"])).status_code == 400
    assert client.get(reverse("approvals:email_confirm", args=["a" * 2000])).status_code == 400

    forwarded = RequestFactory().post(reverse("approvals:email_confirm", args=[token]))
    forwarded.user = charlie  # signed in as someone else: a forwarded link is not theirs to use
    with pytest.raises(PermissionDenied, match="sent to another approver"):
        email_confirm(forwarded, token)

    settings.PORTICO_APPROVAL_LINK_HOURS = -1  # every link is past its age
    expired = client.post(reverse("approvals:email_confirm", args=[token]))
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert not Approval.objects.exists()


# --- Racing approvers ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_racing_approvers_for_the_last_slot_give_exactly_one_decision(
    policy_catalog, alice, bob, charlie, dave, plat
) -> None:
    """Run on PostgreSQL too (DATABASE_URL=postgres://…): the request's row lock serialises the votes."""
    request = _submit(policy_catalog, "two-keys", alice, plat)
    approvals.approve(request.pk, acting_user=bob)  # one of two: charlie and dave race for the last
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(user: Any) -> None:
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

    threads = [threading.Thread(target=decide, args=(u,)) for u in (charlie, dave)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()) == ["approved", "refused"], outcomes
    assert Decision.objects.filter(request=request).count() == 1
    assert Approval.objects.filter(request=request).count() == 2
    assert AuditEvent.objects.filter(verb="request.approved").count() == 1


def test_new_requests_can_email_each_approver_their_own_links(
    client,
    settings,
    policy_catalog,
    alice,
    bob,
    charlie,
    plat,
    mailoutbox,
    django_capture_on_commit_callbacks,
) -> None:
    settings.PORTICO_APPROVAL_EMAIL_LINKS = True
    with django_capture_on_commit_callbacks() as callbacks:
        request = _submit(policy_catalog, "two-keys", alice, plat)
    _deliver(callbacks)
    personal = [m for m in mailoutbox if m.subject.startswith("[Portico] Decide request")]
    assert sorted(m.to[0] for m in personal) == ["bob@example.com", "charlie@example.com"]
    bobs = next(m for m in personal if m.to == ["bob@example.com"])
    approve_link = next(line.split()[-1] for line in bobs.body.splitlines() if "Approve:" in line)
    path = approve_link[approve_link.index("/approvals/email/") :]
    assert client.post(path).status_code == 200
    assert Approval.objects.get(request=request).approver == bob  # the link was bob's, not charlie's


def test_an_admin_policy_is_validated_before_it_is_saved(admin_client, policy_catalog) -> None:
    with pytest.raises(ValidationError) as bad:
        ApprovalPolicy(name="bad", namespace="portico..*", escalate_after=timedelta(hours=1)).full_clean()
    assert {"namespace", "escalate_to"} <= set(bad.value.message_dict)
    with pytest.raises(ValidationError):  # a flow and a namespace at once: the check constraint
        ApprovalPolicy(name="both", namespace="portico", flow=policy_catalog["two-keys"]).full_clean()
    page = admin_client.post(
        reverse("admin:approvals_approvalpolicy_add"), {"name": "x", "namespace": "a b", "quorum": "99"}
    )
    assert page.status_code == 200 and not ApprovalPolicy.objects.exists()  # the form, with its errors
