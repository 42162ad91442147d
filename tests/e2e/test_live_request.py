"""Two people, two browsers: the requester keeps her request page open while the approver decides.

Her page polls one fragment (``requests:live``) and follows the decision, the approver's comment, the
execution and its end without a reload, then stops polling. The approver's Enter in a comment decides
nothing, and a comment being typed survives the queue's own refresh.

Measured approver click → requester screen (from the click, through the approver's POST and redirect,
to the decision badge on her page), on a shared 2-CPU machine, Debian chromium, SQLite, polling every
2 s: 0.55 s, 2.07 s, 0.70 s and 2.91 s over four runs (the poll interval plus one render, more when the
machine is busy). The test prints the figure; it asserts only that the page updates.

A resource page follows its resource while it is being made. Destroy and Kill ask first, naming what
will be lost; with JavaScript off too: the question is a page, not a dialog.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.management import call_command

from .axe import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Portico-pass-7"
LOG_LINE = "Hallo von Kestra"


def _log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_login) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _submit(message: str) -> Any:
    from portal.accounts.models import CostCenter, User
    from portal.catalog.models import CatalogFlow
    from portal.requests.services import submit_request

    return submit_request(
        requester=User.objects.get(username="requester"),
        catalog_flow=CatalogFlow.objects.get(flow_id="hello-kestra"),
        data={"message": message},
        cost_center=CostCenter.objects.get(code="PLAT-001"),
    )


def _watch(page: Any, base_url: str, pk: int) -> None:
    """Open the request page and mark the window: a reload would drop the mark."""
    page.goto(f"{base_url}/requests/{pk}/")
    page.locator("[data-testid=decision-waiting]").wait_for()
    page.evaluate("window.__porticoNoReload = true")


@pytest.fixture
def demo_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", PASSWORD)
    call_command("sync_flows")
    call_command("portico_demo")


def test_the_requesters_page_follows_the_approvers_decision_without_a_reload(
    demo_portal: None, live_server: Any, celery_worker: Any, new_page: Any
) -> None:
    from portal.requests.models import RequestState, ResourceRequest

    base = live_server.url
    approved, rejected = _submit(LOG_LINE), _submit("not today")
    requester = new_page()
    _log_in(requester, base, "requester")
    _watch(requester, base, approved.pk)

    approver = new_page()
    _log_in(approver, base, "approver")
    approver.goto(f"{base}/approvals/")
    card = approver.locator(f"#request-{approved.pk}")
    comment = card.locator("textarea[name=comment]")

    # Enter in the comment decides nothing: it starts a new line.
    comment.fill("Looks fine")
    comment.press("Enter")
    approver.wait_for_load_state("networkidle")
    assert approver.url == f"{base}/approvals/"
    assert ResourceRequest.objects.get(pk=approved.pk).state == RequestState.PENDING_APPROVAL
    assert comment.input_value() == "Looks fine\n"
    # The queue refreshes itself; the comment being typed stays.
    comment.type("Go ahead.")
    with approver.expect_response(
        lambda r: "/approvals/" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        pass  # waits for the queue's next poll
    assert comment.input_value() == "Looks fine\nGo ahead."
    assert comment.evaluate("e => e === document.activeElement")  # and keeps the focus

    # The approver's click reaches the requester's open page by its poll.
    started = time.monotonic()
    card.get_by_role("button", name="Approve").click()
    requester.locator("[data-testid=decision-outcome]", has_text="Approved").wait_for(timeout=15_000)
    latency = time.monotonic() - started
    print(f"approver click -> requester screen: {latency:.2f} s")
    assert "Go ahead." in requester.locator("[data-testid=decision-comment]").inner_text()
    assert requester.locator("[data-testid=decision-waiting]").count() == 0
    # ...and so does the execution, to its end; then the page stops polling.
    requester.locator("#execution pre.logs").get_by_text(LOG_LINE).wait_for(timeout=60_000)
    requester.locator("#request-live[data-state='SUCCEEDED']:not([hx-trigger])").wait_for(timeout=30_000)
    assert requester.evaluate("window.__porticoNoReload === true"), "the page reloaded instead of polling"

    # Comments arrive the same way, and hers, half typed, survives the polls.
    _watch(requester, base, rejected.pk)
    draft = requester.locator("#comments textarea[name=text]")
    draft.fill("Any news?")
    approver.goto(f"{base}/requests/{rejected.pk}/")
    approver.locator("#comments textarea[name=text]").fill("Looking at it now.")
    approver.locator("#comments").get_by_role("button", name="Post comment").click()
    requester.locator("#comments", has_text="Looking at it now.").wait_for(timeout=15_000)
    assert draft.input_value() == "Any news?" and draft.evaluate("e => e === document.activeElement")

    # A rejection and its reason too.
    approver.goto(f"{base}/approvals/")
    card = approver.locator(f"#request-{rejected.pk}")
    card.locator("textarea[name=comment]").fill("Not this week: the freeze is on.")
    card.get_by_role("button", name="Reject").click()
    requester.locator("[data-testid=decision-outcome]", has_text="Rejected").wait_for(timeout=15_000)
    assert "the freeze is on" in requester.locator("[data-testid=decision-comment]").inner_text()
    assert requester.locator("#request-state").inner_text() == "Rejected"
    requester.locator("#request-live:not([hx-trigger])").wait_for()
    assert requester.evaluate("window.__porticoNoReload === true")


def test_destroy_asks_first_and_works_without_javascript(
    demo_portal: None, live_server: Any, browser: Any, new_page: Any
) -> None:
    from portal.requests.models import ResourceRequest
    from portal.resources.models import Resource

    base = live_server.url
    made = _submit("a server")
    resource = Resource.objects.create(
        kind="hcloud-server",
        provider_id="4711",
        name="web-1",
        ipv4="192.0.2.10",
        owner=made.requester,
        cost_center=made.cost_center,
        request=made,
        namespace="portico.infra",
        actions={"destroy": "hetzner-vm-destroy"},
        monthly_cost="3.79",
    )
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    _log_in(page, base, "requester")
    page.goto(f"{base}/resources/{resource.pk}/")

    page.locator("[data-testid=actions]").get_by_role("button", name="Destroy").click()
    page.wait_for_url(f"{base}/resources/{resource.pk}/actions/destroy/")
    lost = page.locator("[data-testid=lost]").inner_text()
    assert "web-1" in lost and "192.0.2.10" in lost and "€3.79" in lost
    assert not ResourceRequest.objects.filter(catalog_flow__flow_id="hetzner-vm-destroy").exists()
    with_script = new_page()  # axe runs in the page: this one with JavaScript, on the same question
    _log_in(with_script, base, "requester")
    with_script.goto(f"{base}/resources/{resource.pk}/")
    with_script.locator("[data-testid=actions]").get_by_role("button", name="Destroy").click()
    with_script.locator("[data-testid=confirm-destroy]").wait_for()
    assert_accessible(with_script)
    page.get_by_role("link", name="Cancel, keep it").click()  # changing one's mind costs nothing
    page.wait_for_url(f"{base}/resources/{resource.pk}/")
    assert not ResourceRequest.objects.filter(catalog_flow__flow_id="hetzner-vm-destroy").exists()

    page.locator("[data-testid=actions]").get_by_role("button", name="Destroy").click()
    page.locator("[data-action=confirm-destroy]").click()
    page.wait_for_url(lambda url: "/requests/" in url)
    destroy = ResourceRequest.objects.get(catalog_flow__flow_id="hetzner-vm-destroy")
    assert page.url == f"{base}/requests/{destroy.pk}/"
    context.close()


def test_kill_asks_first_naming_the_running_tasks(demo_portal: None, live_server: Any, new_page: Any) -> None:
    from orchestrator.state.models import Execution, State, TaskRun
    from portal.catalog.models import CatalogFlow

    base = live_server.url
    flow = CatalogFlow.objects.get(flow_id="hello-kestra")
    execution = Execution.objects.create(
        namespace=flow.namespace,
        flow_id=flow.flow_id,
        flow_revision=flow.revision,
        flow_source=flow.source,
        state=State.RUNNING,
    )
    TaskRun.objects.create(execution=execution, task_id="say_hello", state=State.RUNNING)
    page = new_page()
    _log_in(page, base, "approver")
    page.goto(f"{base}/executions/{execution.pk}/")

    page.locator("[data-action=kill]").click()
    page.locator("[data-testid=confirm-kill]").wait_for()
    assert "say_hello" in page.locator("[data-testid=running-tasks]").inner_text()
    assert "demo.hello-kestra" in page.locator("h1 + p").inner_text()
    assert_accessible(page)
    page.get_by_role("link", name="Cancel, let it run").click()
    page.wait_for_url(f"{base}/executions/{execution.pk}/")
    assert Execution.objects.get(pk=execution.pk).state == State.RUNNING

    page.locator("[data-action=kill]").click()
    page.locator("[data-action=confirm-kill]").click()
    page.wait_for_url(f"{base}/executions/{execution.pk}/")
    assert Execution.objects.get(pk=execution.pk).state in (State.KILLING, State.KILLED)


def test_the_resource_page_follows_its_resource_while_it_is_made(
    demo_portal: None, live_server: Any, new_page: Any
) -> None:
    from portal.requests.models import RequestState, ResourceRequest
    from portal.resources.models import Resource, ResourceState

    base = live_server.url
    made = _submit("a server")
    ResourceRequest.objects.filter(pk=made.pk).update(state=RequestState.RUNNING)  # its run makes it
    resource = Resource.objects.create(
        kind="hcloud-server",
        name="web-2",
        owner=made.requester,
        cost_center=made.cost_center,
        request=made,
        namespace="portico.infra",
        state=ResourceState.PROVISIONING,
    )
    page = new_page()
    _log_in(page, base, "requester")
    page.goto(f"{base}/resources/{resource.pk}/")
    page.locator("#resource-live[data-state='PROVISIONING'][hx-trigger]").wait_for()
    page.evaluate("window.__porticoNoReload = true")

    Resource.objects.filter(pk=resource.pk).update(state=ResourceState.RUNNING, ipv4="192.0.2.20")
    ResourceRequest.objects.filter(pk=made.pk).update(state=RequestState.SUCCEEDED)

    page.locator("#resource-live[data-state='RUNNING']:not([hx-trigger])").wait_for(timeout=15_000)
    assert page.locator("[data-testid=ip]").inner_text().startswith("192.0.2.20")
    assert page.evaluate("window.__porticoNoReload === true")
