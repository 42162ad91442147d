"""Self-service on one's requests: cancel one pending, edit and resubmit one that did not work out, and
a comment thread between the requester and the approvers (audited, emailed to the other participants)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from portal.approvals import services as approvals
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.notifications.services import SEND_COMMENT_EMAIL, SEND_REQUEST_EMAIL
from portal.notifications.tasks import send_comment_email_task, send_request_email_task
from portal.requests import comments, self_service
from portal.requests.models import RequestComment, RequestState, ResourceRequest
from portal.requests.services import submit_request
from portal.resources.models import Resource, ResourceAction

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db

TASKS = {SEND_REQUEST_EMAIL: send_request_email_task, SEND_COMMENT_EMAIL: send_comment_email_task}


def _deliver(callbacks: list[Any]) -> list[tuple]:
    """Run the email tasks queued on commit, as a worker would; their (name, args)."""
    ran = []
    for callback in callbacks:
        if isinstance(callback, partial) and callback.args and callback.args[0] in TASKS:
            args = callback.keywords["args"]
            TASKS[callback.args[0]].apply(args=args)
            ran.append((callback.args[0], *args))
    return ran


def _submit(catalog: Any, user: Any, cost_center: Any, **changes: Any) -> ResourceRequest:
    data = {**VALID_INPUTS, "regions": ["fsn1", "hel1"], "settings": '{"disk": 40}', **changes}
    return submit_request(
        requester=user, catalog_flow=catalog["all-inputs"], data=data, cost_center=cost_center
    )


# Cancel


def test_it_cancels_a_pending_request_audits_it_and_tells_the_approvers(
    client: Any,
    catalog: Any,
    alice: Any,
    bob: Any,
    charlie: Any,
    plat: Any,
    mailoutbox: list,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = _submit(catalog, alice, plat)
    client.force_login(alice)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("requests:cancel", args=[request.pk]))
    delivered = _deliver(callbacks)

    request.refresh_from_db()
    assert response.status_code == 302 and request.state == RequestState.CANCELLED
    assert request.secret_inputs == {} and request.finished_at is not None
    event = AuditEvent.objects.get(verb="request.cancelled")
    assert event.actor_id == alice.pk and event.target_id == str(request.pk)
    assert (SEND_REQUEST_EMAIL, "cancelled", request.pk) in delivered
    message = mailoutbox[-1]
    assert sorted(message.to) == ["bob@example.com", "charlie@example.com"]
    assert "cancelled" in message.subject and f"#{request.pk}" in message.subject
    told = Notification.objects.filter(verb="cancelled").values_list("recipient__username", flat=True)
    assert sorted(told) == ["bob", "charlie"]
    page = client.get(reverse("requests:detail", args=[request.pk])).content.decode()
    assert "is cancelled. The approvers have been told." in page
    assert "Cancel request #" not in page  # nothing left to cancel


def test_an_approved_request_cannot_be_cancelled_this_way(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    request = approvals.approve(_submit(catalog, alice, plat).pk, acting_user=bob)
    client.force_login(alice)

    response = client.post(reverse("requests:cancel", args=[request.pk]), follow=True)

    request.refresh_from_db()
    assert request.state != RequestState.CANCELLED
    assert "no longer pending approval, so it cannot be cancelled" in response.content.decode()
    assert not AuditEvent.objects.filter(verb="request.cancelled").exists()


def test_only_the_requester_cancels(
    client: Any, catalog: Any, alice: Any, bob: Any, mallory: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)

    client.force_login(bob)  # an approver who sees it
    as_approver = client.post(reverse("requests:cancel", args=[request.pk]))
    client.force_login(mallory)  # a requester who does not
    as_stranger = client.post(reverse("requests:cancel", args=[request.pk]))

    request.refresh_from_db()
    assert (as_approver.status_code, as_stranger.status_code) == (403, 404)
    assert request.state == RequestState.PENDING_APPROVAL


def test_a_cancelled_request_cannot_then_be_approved(catalog: Any, alice: Any, bob: Any, plat: Any) -> None:
    request = _submit(catalog, alice, plat)
    self_service.do_cancel_request(request.pk, acting_user=alice)

    with pytest.raises(approvals.DecisionError, match="cancelled, not pending approval"):
        approvals.approve(request.pk, acting_user=bob)


def test_the_request_page_offers_cancel_to_the_requester_only(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)
    url = reverse("requests:detail", args=[request.pk])

    client.force_login(alice)
    mine = client.get(url).content.decode()
    client.force_login(bob)
    theirs = client.get(url).content.decode()

    assert reverse("requests:cancel", args=[request.pk]) in mine and "cannot be undone" in mine
    assert reverse("requests:cancel", args=[request.pk]) not in theirs


# Edit and resubmit


def test_the_resubmit_form_is_prefilled_but_never_with_secrets(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    request = approvals.reject(_submit(catalog, alice, plat).pk, acting_user=bob, comment="too big")
    client.force_login(alice)

    response = client.get(reverse("requests:resubmit", args=[request.pk]))

    form = response.context["form"]
    page = response.content.decode()
    assert response.status_code == 200
    assert form["name"].value() == "web-1" and form["count"].value() == 2
    assert form["size"].value() == "medium" and form["regions"].value() == ["fsn1", "hel1"]
    assert form["backup"].value() is True and '"disk": 40' in form["settings"].value()
    assert form["cost_center"].value() == plat.pk
    assert form["token"].value() is None and "s3cr3t-value" not in page
    assert f"filled in from request #{request.pk}" in page and "Fill in again: token" in page


def test_a_resubmission_records_its_origin_and_both_pages_link_each_other(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    original = approvals.reject(_submit(catalog, alice, plat).pk, acting_user=bob)
    client.force_login(alice)
    data = {**VALID_INPUTS, "name": "web-2", "token": "n3w-s3cret", "cost_center": plat.pk}

    response = client.post(reverse("requests:resubmit", args=[original.pk]), data)

    again = ResourceRequest.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("requests:detail", args=[again.pk])
    assert again.resubmitted_from_id == original.pk and again.inputs["name"] == "web-2"
    assert again.state == RequestState.PENDING_APPROVAL
    audit = AuditEvent.objects.filter(target_id=str(again.pk), details__has_key="resubmitted_from").get()
    assert audit.details["resubmitted_from"] == original.pk
    new_page = client.get(reverse("requests:detail", args=[again.pk])).content.decode()
    old_page = client.get(reverse("requests:detail", args=[original.pk])).content.decode()
    assert f'href="{reverse("requests:detail", args=[original.pk])}"' in new_page
    assert "Edited and resubmitted from" in new_page
    assert (
        f'href="{reverse("requests:detail", args=[again.pk])}"' in old_page and "Resubmitted as" in old_page
    )


@pytest.mark.parametrize(
    "state", [RequestState.PENDING_APPROVAL, RequestState.SUCCEEDED, RequestState.RUNNING]
)
def test_only_rejected_failed_or_cancelled_requests_are_resubmitted(
    client: Any, catalog: Any, alice: Any, plat: Any, state: str
) -> None:
    request = _submit(catalog, alice, plat)
    ResourceRequest.objects.filter(pk=request.pk).update(state=state)
    client.force_login(alice)

    response = client.post(
        reverse("requests:resubmit", args=[request.pk]), {**VALID_INPUTS, "cost_center": plat.pk}, follow=True
    )

    assert ResourceRequest.objects.count() == 1
    assert "only a rejected, failed or cancelled request can be edited and resubmitted" in (
        response.content.decode()
    )


def test_a_day_two_request_is_not_resubmitted_from_the_form(
    client: Any, catalog: Any, alice: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)
    ResourceRequest.objects.filter(pk=request.pk).update(state=RequestState.FAILED)
    made_by = _submit(catalog, alice, plat)
    resource = Resource.objects.create(
        kind="box", name="b-1", owner=alice, cost_center=plat, namespace="portico.tests", request=made_by
    )
    ResourceAction.objects.create(request=request, resource=resource, action="extend")
    client.force_login(alice)

    form = client.get(reverse("requests:resubmit", args=[request.pk]), follow=True)
    post = client.post(
        reverse("requests:resubmit", args=[request.pk]), {**VALID_INPUTS, "cost_center": plat.pk}
    )
    page = client.get(reverse("requests:detail", args=[request.pk])).content.decode()

    assert (
        "acted on an existing resource. Ask for that action again from the resource" in form.content.decode()
    )
    assert post.status_code == 302 and ResourceRequest.objects.count() == 2
    assert reverse("requests:resubmit", args=[request.pk]) not in page and "resource&#x27;s page" in page


def test_only_the_requester_resubmits(
    client: Any, catalog: Any, alice: Any, bob: Any, mallory: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)
    self_service.do_cancel_request(request.pk, acting_user=alice)

    client.force_login(bob)
    as_approver = client.get(reverse("requests:resubmit", args=[request.pk]))
    client.force_login(mallory)
    as_stranger = client.get(reverse("requests:resubmit", args=[request.pk]))

    assert (as_approver.status_code, as_stranger.status_code) == (403, 404)


def test_an_optional_input_left_empty_stays_empty_when_prefilled(catalog: Any, alice: Any, plat: Any) -> None:
    request = _submit(catalog, alice, plat)
    flow = catalog["all-inputs"].parse()

    initial = self_service.prefill(request, flow)

    assert initial["docs"] is None and "token" not in initial and initial["cost_center"] == plat.pk


# Comments


def test_requester_and_approver_talk_in_a_thread_shown_escaped_newest_last(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)
    url = reverse("requests:comments", args=[request.pk])

    client.force_login(alice)
    client.post(url, {"text": "Could this go today? <script>alert(1)</script>"})
    client.force_login(bob)
    client.post(url, {"text": "Looking now.\nOne moment."})
    page = client.get(reverse("requests:detail", args=[request.pk])).content.decode()

    assert [c.text for c in comments.thread(request)] == [
        "Could this go today? <script>alert(1)</script>",
        "Looking now.\nOne moment.",
    ]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert page.index("Could this go today?") < page.index("Looking now.<br>One moment.")
    assert AuditEvent.objects.filter(verb="request.commented", target_id=str(request.pk)).count() == 2


def test_a_comment_is_emailed_to_the_other_participants(
    client: Any,
    catalog: Any,
    alice: Any,
    bob: Any,
    charlie: Any,
    plat: Any,
    mailoutbox: list,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = approvals.reject(_submit(catalog, alice, plat).pk, acting_user=bob, comment="too big")
    client.force_login(alice)

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("requests:comments", args=[request.pk]), {"text": "Which size would do?"})
    _deliver(callbacks)

    message = mailoutbox[-1]
    assert message.to == ["bob@example.com"]  # bob decided; charlie took no part; alice wrote it
    assert "alice commented on request" in message.subject and "Which size would do?" in message.body
    notice = Notification.objects.get(verb="commented")
    assert notice.recipient == bob and notice.url.endswith(f"#comment-{RequestComment.objects.get().pk}")


def test_a_requester_comment_on_an_untouched_request_reaches_its_approvers(
    catalog: Any,
    alice: Any,
    bob: Any,
    charlie: Any,
    plat: Any,
    mailoutbox: list,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = _submit(catalog, alice, plat)

    with django_capture_on_commit_callbacks() as callbacks:
        comments.do_add_comment(request.pk, author=alice, text="Needed for Monday's demo.")
    _deliver(callbacks)

    assert sorted(mailoutbox[-1].to) == ["bob@example.com", "charlie@example.com"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "Write something before posting a comment."), ("x" * 4001, "at most 4000 characters")],
)
def test_an_empty_or_oversized_comment_is_refused_in_plain_words(
    client: Any, catalog: Any, alice: Any, plat: Any, text: str, message: str
) -> None:
    request = _submit(catalog, alice, plat)
    client.force_login(alice)

    plain = client.post(reverse("requests:comments", args=[request.pk]), {"text": text}, follow=True)
    fragment = client.post(
        reverse("requests:comments", args=[request.pk]), {"text": text}, HTTP_HX_REQUEST="true"
    )

    assert message in plain.content.decode()
    assert message in fragment.content.decode() and 'role="alert"' in fragment.content.decode()
    assert not RequestComment.objects.exists()


def test_someone_who_may_not_see_the_request_neither_reads_nor_writes_its_thread(
    client: Any, catalog: Any, alice: Any, mallory: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)
    comments.do_add_comment(request.pk, author=alice, text="private note")
    client.force_login(mallory)

    read = client.get(reverse("requests:comments", args=[request.pk]))
    write = client.post(reverse("requests:comments", args=[request.pk]), {"text": "hello"})

    assert (read.status_code, write.status_code) == (404, 404)
    assert RequestComment.objects.count() == 1
    with pytest.raises(PermissionDenied, match="only the requester and the approvers"):
        comments.do_add_comment(request.pk, author=mallory, text="sneaky")


def test_a_comment_posted_with_htmx_returns_the_thread(
    client: Any, catalog: Any, alice: Any, plat: Any
) -> None:
    request = _submit(catalog, alice, plat)
    client.force_login(alice)

    response = client.post(
        reverse("requests:comments", args=[request.pk]), {"text": "first!"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="comments"')
    assert "first!" in body and RequestComment.objects.get().author == alice
