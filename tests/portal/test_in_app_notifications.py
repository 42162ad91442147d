"""In-app notifications: every emailed event also reaches the bell of the same people, from the task
that sends the email; a page lists them, each links to its object, and they are marked read."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from orchestrator.state.models import State
from portal.approvals import services as approvals
from portal.notifications.models import Notification
from portal.notifications.services import SEND_COMMENT_EMAIL, SEND_REQUEST_EMAIL
from portal.notifications.tasks import send_comment_email_task, send_request_email_task
from portal.requests import comments
from portal.requests.models import ResourceRequest
from portal.requests.services import submit_request, sync_request_with_execution
from portal.resources import notifications as resource_mail
from portal.resources import services as resources
from portal.resources.models import Resource
from portal.resources.tasks import send_attention_notice_task, send_expiry_warning_task

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db

TASKS = {
    SEND_REQUEST_EMAIL: send_request_email_task,
    SEND_COMMENT_EMAIL: send_comment_email_task,
    resource_mail.SEND_EXPIRY_WARNING: send_expiry_warning_task,
    resource_mail.SEND_ATTENTION_NOTICE: send_attention_notice_task,
}


def _deliver(callbacks: list[Any]) -> None:
    """Run the email tasks queued on commit, as a worker would (chat posts are not these tests')."""
    for callback in callbacks:
        if isinstance(callback, partial) and callback.args and callback.args[0] in TASKS:
            TASKS[callback.args[0]].apply(args=callback.keywords["args"])


def _submit(catalog: Any, user: Any, cost_center: Any) -> ResourceRequest:
    return submit_request(
        requester=user, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=cost_center
    )


def _told(verb: str) -> list[str]:
    return sorted(Notification.objects.filter(verb=verb).values_list("recipient__username", flat=True))


def test_a_submitted_request_reaches_the_approvers_bells_and_not_the_requesters(
    catalog: Any, alice: Any, bob: Any, charlie: Any, plat: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        request = _submit(catalog, alice, plat)
        assert not Notification.objects.exists()  # nothing before commit
    _deliver(callbacks)

    assert _told("requested") == ["bob", "charlie"]
    notice = Notification.objects.filter(verb="requested").first()
    assert notice.url == reverse("requests:detail", args=[request.pk]) and notice.read_at is None
    assert f"(request #{request.pk})" in notice.text and "waiting for your approval" in notice.text


def test_an_approver_scoped_to_another_cost_center_is_not_told(
    catalog: Any,
    alice: Any,
    bob: Any,
    charlie: Any,
    plat: Any,
    data_cc: Any,
    mailoutbox: list,
    django_capture_on_commit_callbacks: Any,
) -> None:
    charlie.approval_scopes.add(data_cc)  # charlie decides DATA only: the PLAT request is not his to see

    with django_capture_on_commit_callbacks() as callbacks:
        _submit(catalog, alice, plat)
    _deliver(callbacks)

    assert _told("requested") == ["bob"] and mailoutbox[-1].to == ["bob@example.com"]


def test_decided_and_finished_reach_the_requester_and_show_on_the_bell(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = _submit(catalog, alice, plat)
    with django_capture_on_commit_callbacks() as callbacks:
        request = approvals.approve(request.pk, acting_user=bob)
    _deliver(callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        sync_request_with_execution(request.execution, State.RUNNING)
        sync_request_with_execution(request.execution, State.SUCCESS)
    _deliver(callbacks)
    client.force_login(alice)

    page = client.get(reverse("catalog:index")).content.decode()

    assert _told("decided") == ["alice"] and _told("finished") == ["alice"]
    assert "was approved by bob" in Notification.objects.get(verb="decided").text
    assert "has finished: succeeded" in Notification.objects.get(verb="finished").text
    assert (
        'data-testid="bell"' in page and '<span class="count">2<span class="sr-only"> unread</span>' in page
    )


def test_a_comment_reaches_the_other_participants_bells_with_its_text_escaped(
    client: Any, catalog: Any, alice: Any, bob: Any, plat: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = approvals.reject(_submit(catalog, alice, plat).pk, acting_user=bob)
    with django_capture_on_commit_callbacks() as callbacks:
        comments.do_add_comment(request.pk, author=alice, text="why? <img src=x onerror=alert(1)>")
    _deliver(callbacks)
    client.force_login(bob)

    page = client.get(reverse("notifications:list")).content.decode()

    assert _told("commented") == ["bob"]
    assert "alice commented on request" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def _resource(catalog: Any, owner: Any, cost_center: Any, **fields: Any) -> Resource:
    made_by = _submit(catalog, owner, cost_center)
    return Resource.objects.create(
        kind="box", name="box-1", owner=owner, cost_center=cost_center, namespace="portico.tests",
        request=made_by, **fields,
    )  # fmt: skip


def test_an_expiring_resource_reaches_its_owners_bell_even_without_an_email_address(
    catalog: Any, alice: Any, plat: Any, mailoutbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    alice.email = ""
    alice.save(update_fields=["email"])
    resource = _resource(catalog, alice, plat, expires_at=timezone.now() + timedelta(hours=2))

    with django_capture_on_commit_callbacks() as callbacks:
        assert resources.warn_expiring() == [resource.pk]
    _deliver(callbacks)

    notice = Notification.objects.get(verb="resource_expiring")
    assert notice.recipient == alice and notice.url == reverse("resources:detail", args=[resource.pk])
    assert "box-1" in notice.text and "will then be destroyed" in notice.text
    assert mailoutbox == []  # no address: the bell is the only way to tell her


def test_a_resource_needing_attention_reaches_its_owners_bell(
    catalog: Any, alice: Any, plat: Any, mailoutbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    resource = _resource(catalog, alice, plat)

    with django_capture_on_commit_callbacks() as callbacks:
        resources.mark_attention(
            resource, "The destroy failed.", event="resource.needs_attention", details={}
        )
    _deliver(callbacks)

    notice = Notification.objects.get(verb="resource_attention")
    assert notice.recipient == alice and "needs your attention: The destroy failed." in notice.text
    assert mailoutbox[-1].to == ["alice@example.com"]


def _notices(user: Any, count: int) -> list[Notification]:
    return [
        Notification.objects.create(recipient=user, verb="decided", text=f"notice {n}", url=f"/requests/{n}/")
        for n in range(count)
    ]


def test_opening_a_notification_marks_it_read_and_goes_to_its_object(client: Any, alice: Any) -> None:
    first, second = _notices(alice, 2)
    client.force_login(alice)

    response = client.get(reverse("notifications:open", args=[first.pk]))

    first.refresh_from_db()
    second.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == "/requests/0/"
    assert first.read_at is not None and second.read_at is None


def test_one_or_all_are_marked_read(client: Any, alice: Any) -> None:
    notices = _notices(alice, 3)
    client.force_login(alice)

    client.post(reverse("notifications:read", args=[notices[0].pk]))
    after_one = Notification.objects.filter(recipient=alice, read_at__isnull=True).count()
    page = client.get(reverse("notifications:list")).content.decode()
    client.post(reverse("notifications:read_all"))
    after_all = Notification.objects.filter(recipient=alice, read_at__isnull=True).count()

    assert (after_one, after_all) == (2, 0)
    assert "2 unread." in page and "Mark all as read" in page
    assert page.index("notice 2") < page.index("notice 1")  # newest first


def test_nobody_reads_or_marks_anyone_elses_notifications(client: Any, alice: Any, mallory: Any) -> None:
    (notice,) = _notices(alice, 1)
    client.force_login(mallory)

    opened = client.get(reverse("notifications:open", args=[notice.pk]))
    marked = client.post(reverse("notifications:read", args=[notice.pk]))
    client.post(reverse("notifications:read_all"))
    listed = client.get(reverse("notifications:list")).content.decode()

    notice.refresh_from_db()
    assert (opened.status_code, marked.status_code) == (404, 404)
    assert notice.read_at is None and "notice 0" not in listed


def test_the_notifications_pages_need_a_login(client: Any, alice: Any) -> None:
    (notice,) = _notices(alice, 1)

    pages = [
        client.get(reverse("notifications:list")),
        client.get(reverse("notifications:open", args=[notice.pk])),
        client.post(reverse("notifications:read_all")),
    ]

    assert all(p.status_code == 302 and reverse("account_login") in p["Location"] for p in pages)


def test_marking_read_is_a_post(client: Any, alice: Any) -> None:
    (notice,) = _notices(alice, 1)
    client.force_login(alice)

    response = client.get(reverse("notifications:read", args=[notice.pk]))

    notice.refresh_from_db()
    assert response.status_code == 405 and notice.read_at is None
