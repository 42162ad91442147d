"""The execution page in a real browser: level filter, resume form, live tree and logs after a resume.

A live server (pytest-django's ``live_server``) and a real Celery worker share the test database. The
approver filters the log by level, fills the Pause task's ``onResume`` form and watches the execution
finish without reloading; the requester sees only the Kill button, and when her session ends the
polling page goes to the login page (HX-Redirect) instead of showing it inside a panel.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Portico-pass-7"
EVIDENCE_DIR = Path(settings.BASE_DIR) / "var" / "e2e"
GATE_FLOW = """\
id: e2e-gate
namespace: portico.e2e
tasks:
  - id: note
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: "about to switch DNS"
  - id: info
    type: io.kestra.plugin.core.log.Log
    message: "prepared the records"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1.5S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "resumed because {{ outputs.wait.onResume.reason }}"
"""


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_login) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _paused_execution():
    from orchestrator.executor import walker
    from orchestrator.flowmodel.spec import parse_flow
    from orchestrator.state.models import State
    from portal.accounts.models import User
    from portal.catalog.models import CatalogFlow
    from portal.requests import links
    from portal.requests.models import RequestState, ResourceRequest
    from portal.requests.services import REQUEST_LABEL

    flow = parse_flow(GATE_FLOW, "e2e-gate.yml")
    requester = User.objects.get(username="requester")
    request = ResourceRequest.objects.create(
        requester=requester,
        catalog_flow=CatalogFlow.objects.first(),
        flow_revision=flow.revision,
        flow_source=GATE_FLOW,
        cost_center=requester.default_cost_center,
        state=RequestState.APPROVED,
    )
    with (
        transaction.atomic()
    ):  # linked by foreign key, as portal.approvals starts one (the label is informational)
        execution = walker.start_execution(
            flow, {}, labels={REQUEST_LABEL: str(request.pk)}, execution_id=links.new_execution_id(request)
        )
    deadline = time.monotonic() + 30
    while execution.state != State.PAUSED:
        assert time.monotonic() < deadline, f"execution still {execution.state}"
        time.sleep(0.05)
        execution.refresh_from_db()
    return execution


def test_it_filters_logs_and_resumes_a_paused_execution_in_the_browser(
    monkeypatch, live_server, celery_worker, new_page
) -> None:
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", PASSWORD)
    call_command("sync_flows")
    call_command("portico_demo")
    execution = _paused_execution()
    base, path = live_server.url, f"/executions/{execution.pk}/"

    requester = new_page()
    _log_in(requester, base, "requester")
    requester.goto(base + path)
    assert requester.locator("[data-action]").evaluate_all("bs => bs.map(b => b.dataset.action)") == ["kill"]
    # Her session ends while the page polls: htmx navigates to the login page instead of swapping it in.
    requester.context.clear_cookies()
    requester.wait_for_url(lambda url: "/accounts/login/" in url, timeout=10_000)
    assert f"next=%2Fexecutions%2F{execution.pk}%2F" in requester.url
    assert requester.locator("#live").count() == 0

    approver = new_page()
    _log_in(approver, base, "approver")
    approver.goto(base + path)
    logs = approver.locator("#log-lines")
    logs.get_by_text("prepared the records").wait_for()
    approver.locator(".level-tabs a", has_text="WARN").click()
    approver.locator(".level-tabs a.active", has_text="WARN").wait_for()
    assert logs.get_by_text("about to switch DNS").is_visible()
    assert logs.get_by_text("prepared the records").count() == 0

    approver.fill("#resume-form input[name='reason']", "change window open")
    approver.locator("[data-action='resume']").click()
    approver.wait_for_url(f"**{path}")
    approver.evaluate("window.__porticoNoReload = true")  # the nap keeps it running a while
    approver.locator("#live[data-state='SUCCESS']").wait_for(timeout=30_000)
    logs.get_by_text("resumed because change window open").wait_for(timeout=10_000)
    assert approver.evaluate("window.__porticoNoReload === true"), "the page reloaded instead of polling"
    assert approver.locator(".gantt-row[data-task='after'] .gantt-bar").count() == 1
    assert approver.locator("[data-action='replay']").count() == 1  # finished: replay is offered
    EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
    approver.screenshot(path=str(EVIDENCE_DIR / "execution-page.png"), full_page=True)
