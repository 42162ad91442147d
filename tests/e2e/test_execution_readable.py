"""The execution page stays readable in a real browser: a large output is collapsed (the page is not
thousands of pixels tall), a Terraform-style plan summary is a table, and the log filter (level and
task) lives in the URL, so the link reproduces what was on the screen.

A live server (pytest-django's ``live_server``) and a real Celery worker share the test database.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Portico-pass-7"
EVIDENCE_DIR = Path(settings.BASE_DIR) / "var" / "e2e"
ROWS = [{"name": f"row-{i}", "address": f"10.0.{i // 250}.{i % 250}", "note": "x" * 60} for i in range(400)]
SUMMARY = {
    "add": 2,
    "change": 0,
    "destroy": 1,
    "resources": [
        {"address": "hcloud_server.web", "type": "hcloud_server", "actions": ["create"]},
        {"address": "hcloud_firewall.web", "type": "hcloud_firewall", "actions": ["create"]},
        {"address": "hcloud_server.old", "type": "hcloud_server", "actions": ["delete"]},
    ],
}
FLOW = f"""\
id: e2e-readable
namespace: portico.e2e
tasks:
  - id: inventory
    type: io.kestra.plugin.core.output.OutputValues
    values:
      rows: {json.dumps(ROWS)}
      summary: {json.dumps(SUMMARY)}
  - id: careful
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: "about to touch production"
  - id: chatty
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: "another warning from elsewhere"
  - id: info
    type: io.kestra.plugin.core.log.Log
    message: "just information"
"""


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_login) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _finished_execution():
    from orchestrator.executor import walker
    from orchestrator.flowmodel.spec import parse_flow
    from portal.accounts.models import User
    from portal.catalog.models import CatalogFlow
    from portal.requests import links
    from portal.requests.models import RequestState, ResourceRequest
    from portal.requests.services import REQUEST_LABEL

    flow = parse_flow(FLOW, "e2e-readable.yml")
    requester = User.objects.get(username="requester")
    request = ResourceRequest.objects.create(
        requester=requester,
        catalog_flow=CatalogFlow.objects.first(),
        flow_revision=flow.revision,
        flow_source=FLOW,
        cost_center=requester.default_cost_center,
        state=RequestState.APPROVED,
    )
    with transaction.atomic():  # linked by foreign key, as portal.approvals starts one
        execution = walker.start_execution(
            flow, {}, labels={REQUEST_LABEL: str(request.pk)}, execution_id=links.new_execution_id(request)
        )
    deadline = time.monotonic() + 30
    while not execution.is_terminal:
        assert time.monotonic() < deadline, f"execution still {execution.state}"
        time.sleep(0.05)
        execution.refresh_from_db()
    assert execution.state == "SUCCESS"
    return execution


def test_outputs_are_collapsed_and_the_log_filter_is_a_link(
    monkeypatch, live_server, celery_worker, new_page
):
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", PASSWORD)
    call_command("sync_flows")
    call_command("portico_demo")
    execution = _finished_execution()
    base, path = live_server.url, f"/executions/{execution.pk}/"

    page = new_page()
    _log_in(page, base, "requester")
    page.goto(base + path)
    outputs = page.locator("#outputs")
    outputs.locator(".task-output[data-task='inventory']").wait_for()
    # 400 rows of output: collapsed behind a summary line, so the page keeps a human height.
    assert page.evaluate("document.documentElement.scrollHeight") < 3000
    block = outputs.locator("details.output-block", has_text="400 items")
    assert block.count() == 1 and not block.evaluate("d => d.open")
    # The only task with outputs starts open; the plan summary reads as counts and a table, not JSON.
    assert outputs.locator(".task-output[data-task='inventory']").evaluate("d => d.open")
    plan = outputs.locator("[data-testid='plan-summary']")
    assert plan.locator(".plan-counts").inner_text().split() == "2 to add 0 to change 1 to destroy".split()
    assert plan.locator("tbody tr").count() == 3
    assert plan.locator("tbody tr").nth(2).inner_text().split() == [
        "hcloud_server.old",
        "hcloud_server",
        "delete",
    ]
    # Opening the rows shows them, in a box that scrolls instead of growing the page.
    block.locator("summary").click()
    assert block.locator("pre").evaluate("p => p.clientHeight") <= 330
    assert "row-399" in block.locator("pre").inner_text()

    logs = page.locator("#log-lines")
    logs.get_by_text("just information").wait_for()
    page.locator(".level-tabs a", has_text="WARN").click()
    page.locator(".level-tabs a.active", has_text="WARN").wait_for()
    assert "level=WARN" in page.url  # htmx pushed the filtered page's own URL
    page.select_option("#log-task", "careful")
    page.locator(".log-task-filter button").click()
    page.wait_for_url("**task=careful**")
    assert "level=WARN" in page.url
    EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(EVIDENCE_DIR / "execution-readable.png"), full_page=True)

    # The link alone reproduces the view, in another session.
    shared = page.url
    other = new_page()
    _log_in(other, base, "requester")
    other.goto(shared)
    other_logs = other.locator("#log-lines")
    other_logs.get_by_text("about to touch production").wait_for()
    assert other_logs.get_by_text("another warning from elsewhere").count() == 0
    assert other_logs.get_by_text("just information").count() == 0
    assert other.locator("#log-task").input_value() == "careful"
    assert other.locator(".level-tabs a.active").inner_text() == "WARN"
