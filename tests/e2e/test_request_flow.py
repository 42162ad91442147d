"""The Monday-morning story in a real browser: request, approve, watch the flow run.

A live Django server (pytest-django's threaded ``live_server``) and a real Celery worker share the test
database; chromium is driven by Playwright. The requester keeps the request page open while the approver
decides in another browser: the flow's log line must reach that page by htmx polling, without a reload.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Portico-pass-7"
EVIDENCE_DIR = Path(settings.BASE_DIR) / "var" / "e2e"
LOG_LINE = "Hallo von Kestra"


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_login) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _log_out(page, base_url: str) -> None:
    # "Log out" in the top bar; allauth logs out on POST only, so it may ask to confirm first.
    page.locator("header").get_by_text("Log out", exact=True).click()
    page.wait_for_load_state()
    if "/accounts/logout/" in page.url:
        page.locator("main form[action*='logout'] [type=submit]").click()
        page.wait_for_load_state()
    page.goto(f"{base_url}/")
    assert "/accounts/login/" in page.url


@pytest.fixture
def demo_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalog and demo accounts, created by the same commands ``make up`` runs."""
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", PASSWORD)
    call_command("sync_flows")
    call_command("portico_demo")


def test_it_runs_a_requested_flow_after_approval_and_streams_its_log(
    demo_portal, live_server, celery_worker, new_page
) -> None:
    from portal.catalog.models import CatalogFlow
    from portal.requests.models import ResourceRequest

    base = live_server.url
    flow = CatalogFlow.objects.get(flow_id="hello-kestra")

    # The requester finds the flow in the catalog and submits its form on another cost center than
    # her default one.
    requester = new_page()
    _log_in(requester, base, "requester")
    requester.goto(f"{base}/")
    requester.locator(f"a[href*='/flows/{flow.namespace}/hello-kestra/']").first.click()
    requester.wait_for_url(re.compile(rf"/flows/{re.escape(flow.namespace)}/hello-kestra/"))
    cost_center = requester.locator("select[name='cost_center']")
    values = [v for v in cost_center.locator("option").evaluate_all("os => os.map(o => o.value)") if v]
    chosen = next((v for v in values if v != cost_center.input_value()), values[0])
    cost_center.select_option(chosen)
    requester.locator("form:has(select[name='cost_center']) [type=submit]").click()
    requester.wait_for_url(re.compile(r"/requests/\d+/"))

    request = ResourceRequest.objects.get(requester__username="requester", catalog_flow=flow)
    assert request.state == "PENDING_APPROVAL"
    assert str(request.cost_center.pk) == chosen
    assert requester.locator("#execution pre.logs").count() == 0  # nothing runs before the approval
    requester.evaluate("window.__porticoNoReload = true")

    # The approver approves it from the queue, in a browser of her own.
    approver = new_page()
    _log_in(approver, base, "approver")
    approver.goto(f"{base}/approvals/")
    approver.locator(f"#request-{request.pk}").get_by_role("button", name="Approve").click()
    approver.wait_for_load_state()
    request.refresh_from_db()
    assert request.state in {"APPROVED", "RUNNING", "SUCCEEDED"}

    # The requester's open page follows the execution by polling; the log line arrives without a reload.
    requester.locator("#execution pre.logs").get_by_text(LOG_LINE).wait_for(state="visible", timeout=60_000)
    assert requester.evaluate("window.__porticoNoReload === true"), "the page reloaded instead of polling"
    requester.locator("#execution[data-state='SUCCEEDED']").wait_for(timeout=30_000)
    _log_out(requester, base)

    # The approver opens the request page too and sees the finished run.
    approver.goto(f"{base}/requests/{request.pk}/")
    approver.locator("#execution pre.logs").get_by_text(LOG_LINE).wait_for(state="visible")
    EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
    approver.screenshot(path=str(EVIDENCE_DIR / "request-page.png"), full_page=True)
