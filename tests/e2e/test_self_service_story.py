"""Self-service in a real browser, keyboard only: a requester comments on a pending request, the approver
finds it under the bell and answers, the requester cancels, then edits and resubmits from the form.

Notices reach the bell through the real Celery worker (the email task records them), as in production.
axe runs over the thread, the notifications page and the prefilled form, on a desktop and a phone.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.axe import assert_accessible
from tests.e2e.portal_pages import (
    DESKTOP,
    PHONE,
    log_in,
    open_page,
    portal,  # noqa: F401  (fixture)
    settle,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _tab_to(page: Any, selector: str, limit: int = 80) -> None:
    target = page.locator(selector).first
    target.wait_for()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"{selector} is not reachable with Tab within {limit} presses on {page.url}")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_comment_answer_cancel_and_resubmit_by_keyboard(
    portal: dict[str, Any],  # noqa: F811
    browser: Any,
    viewport: dict[str, int],
) -> None:
    from portal.notifications.models import Notification
    from portal.requests.models import RequestComment, ResourceRequest

    base, pending = portal["base"], portal["pending"]
    requester = open_page(browser, viewport=viewport)
    log_in(requester, base, "requester")
    requester.goto(f"{base}/requests/{pending}/")
    settle(requester)
    _tab_to(requester, "#comments textarea")
    requester.keyboard.type("Could this be ready by Monday? <b>thanks</b>")
    requester.keyboard.press("Enter")  # a new line, never a submit
    requester.keyboard.type("Riley")
    _tab_to(requester, "#comments button[type=submit]")
    requester.keyboard.press("Enter")
    wait_for(lambda: RequestComment.objects.filter(request_id=pending).exists(), "the comment")
    requester.locator("#comments .comment-item").first.wait_for()
    assert "<b>thanks</b>" in requester.locator("#comments .comment").first.inner_text()
    assert_accessible(requester)

    wait_for(lambda: Notification.objects.filter(verb="commented").exists(), "the comment's notice")
    approver = open_page(browser, viewport=viewport)
    log_in(approver, base, "approver")
    approver.goto(f"{base}/")
    assert (
        approver.locator("[data-testid=bell] .count")
        .inner_text()
        .startswith(
            str(Notification.objects.filter(recipient__username="approver", read_at__isnull=True).count())
        )
    )
    _tab_to(approver, "[data-testid=bell]")
    approver.keyboard.press("Enter")
    approver.wait_for_url(f"{base}/notifications/")
    settle(approver)
    assert_accessible(approver)
    notice = Notification.objects.get(verb="commented", recipient__username="approver")
    _tab_to(approver, f".notification a[href$='/notifications/{notice.pk}/']")
    approver.keyboard.press("Enter")
    approver.wait_for_url(f"{base}/requests/{pending}/#comment-*")
    _tab_to(approver, "#comments textarea")
    approver.keyboard.type("Yes, approving after lunch.")
    _tab_to(approver, "#comments button[type=submit]")
    approver.keyboard.press("Enter")
    wait_for(lambda: RequestComment.objects.filter(request_id=pending).count() == 2, "the answer")

    requester.goto(f"{base}/requests/{pending}/")
    settle(requester)
    assert "Yes, approving after lunch." in requester.locator("#comments").inner_text()
    _tab_to(requester, "form.cancel-request button")
    requester.keyboard.press("Enter")
    requester.wait_for_load_state()
    wait_for(lambda: ResourceRequest.objects.get(pk=pending).state == "CANCELLED", "the cancel")
    assert "is cancelled" in requester.locator(".messages").inner_text()

    _tab_to(requester, f"a[href='/requests/{pending}/resubmit/']")
    requester.keyboard.press("Enter")
    requester.wait_for_url(f"{base}/requests/{pending}/resubmit/")
    settle(requester)
    assert requester.locator("[name='hostname']").input_value() == "web-2"
    assert_accessible(requester)
    _tab_to(requester, "form.form [type=submit]")
    requester.keyboard.press("Enter")
    requester.wait_for_url(lambda url: "/resubmit/" not in url)
    again = ResourceRequest.objects.get(resubmitted_from_id=pending)
    assert requester.url.endswith(f"/requests/{again.pk}/")
    assert requester.locator(f".resubmitted-from a[href='/requests/{pending}/']").is_visible()
    requester.context.close()
    approver.context.close()
