"""Portico's founding story in a real browser, against the local Hetzner API fake and the sandbox module.

A developer requests a VM and sees its price change as she picks a server type; the approver sees the
cost, the Terraform plan and the cost center's month so far, approves; the VM appears under "My
resources" with its IP; she asks for its destroy, the approver approves, and nothing is left behind.
"""

from __future__ import annotations

import base64
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command

from hcloud_fake import HcloudFake
from tests.fakes.hcloud_fake import hcloud_fake  # noqa: F401  (fixture)
from tests.orchestrator.test_terraform import state_resources

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Portico-pass-7"
EVIDENCE_DIR = Path(settings.BASE_DIR) / "var" / "e2e"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb5Yb0tJvTQ8nqUu2dXWmT3yHdqkqYtq7c0mVdQ7E0a dev@laptop"


def _log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_login) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.fixture
def story(
    hcloud_fake: HcloudFake,  # noqa: F811
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> HcloudFake:
    settings.HCLOUD_TOKEN = hcloud_fake.token
    settings.HCLOUD_ENDPOINT = hcloud_fake.endpoint
    settings.HCLOUD_POLL_INTERVAL = 0.01
    settings.HCLOUD_TERRAFORM_MODULE = "sandbox-server"
    settings.DATA_DIR = tmp_path / "data"
    cache.clear()
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", PASSWORD)
    call_command("sync_flows")
    call_command("portico_demo")
    return hcloud_fake


def _approve(page: Any, base: str, request_pk: int) -> None:
    page.goto(f"{base}/approvals/")
    page.locator(f"#request-{request_pk}").get_by_role("button", name="Approve").click()
    page.wait_for_load_state()


def test_it_requests_prices_plans_approves_provisions_and_destroys_a_vm(
    story: HcloudFake, live_server: Any, celery_worker: Any, new_page: Any
) -> None:
    from portal.requests.models import ResourceRequest
    from portal.resources.models import Resource

    base = live_server.url
    developer = new_page()
    _log_in(developer, base, "requester")
    developer.goto(f"{base}/flows/portico.infra/hetzner-vm-terraform/")

    # The price follows the choice of server type, before anything is submitted.
    price = developer.locator("#price-estimate [data-testid=price-monthly]")
    price.wait_for()
    assert price.inner_text() == "€3.79"
    developer.select_option("#id_server_type", "cx32")
    developer.locator("#price-estimate", has_text="€6.80").wait_for()
    developer.fill("#id_name", "story-vm")
    developer.fill("#id_ssh_public_key", SSH_KEY)
    developer.locator("form:has(select[name='cost_center']) [type=submit]").click()
    developer.wait_for_url(re.compile(r"/requests/\d+/"))
    request = ResourceRequest.objects.get(requester__username="requester")

    # The approver sees the cost, the plan and the month so far, then approves.
    approver = new_page()
    _log_in(approver, base, "approver")
    card = approver.locator(f"#request-{request.pk}")
    for _ in range(120):
        approver.goto(f"{base}/approvals/")
        if card.locator("[data-testid=plan-summary]").count():
            break
        approver.wait_for_timeout(500)
    assert "1 to add, 0 to change, 0 to destroy" in card.locator("[data-testid=plan-summary]").inner_text()
    assert "€6.80" in card.locator("[data-testid=estimate]").inner_text()
    assert "this month" in card.inner_text()
    EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
    approver.screenshot(path=str(EVIDENCE_DIR / "hetzner-approval.png"), full_page=True)
    _approve(approver, base, request.pk)

    # The VM appears under "My resources" with its IP.
    developer.locator("#execution[data-state='SUCCEEDED']").wait_for(timeout=120_000)
    developer.goto(f"{base}/resources/")
    row = developer.locator("tr[data-resource='story-vm']")
    resource = Resource.objects.get(request=request)
    assert row.locator("[data-testid=ip]").inner_text() == resource.ipv4
    assert "€6.80" in row.inner_text()
    developer.screenshot(path=str(EVIDENCE_DIR / "my-resources.png"), full_page=True)

    # Its detail page: IP, cost, the request that created it and the audit trail.
    row.get_by_role("link", name="story-vm").click()
    developer.wait_for_url(re.compile(rf"/resources/{resource.pk}/$"))
    assert developer.locator("[data-testid=ip]").inner_text().startswith(resource.ipv4)
    assert "€6.80" in developer.locator("[data-testid=monthly-cost]").inner_text()
    assert "created it" in developer.locator("#resource-requests").inner_text()
    assert developer.locator("#resource-events tr").count() >= 1
    developer.screenshot(path=str(EVIDENCE_DIR / "resource-detail.png"), full_page=True)

    # Destroy (from the detail page) goes through a request and an approval too; afterwards nothing is
    # left in the state.
    developer.locator("[data-testid=actions]").get_by_role("button", name="Destroy").click()
    developer.locator("[data-action=confirm-destroy]").click()  # the page naming what will be lost
    developer.wait_for_url(re.compile(r"/requests/\d+/"))
    destroy = ResourceRequest.objects.filter(catalog_flow__flow_id="hetzner-vm-terraform-destroy").get()
    _approve(approver, base, destroy.pk)
    developer.locator("#execution[data-state='SUCCEEDED']").wait_for(timeout=120_000)
    developer.goto(f"{base}/resources/")  # destroyed resources are hidden by default
    assert developer.locator("tr[data-resource='story-vm']").count() == 0
    developer.goto(f"{base}/resources/?destroyed=1")
    assert developer.locator("tr[data-resource='story-vm'] [data-testid=state]").inner_text() == "Destroyed"
    assert state_resources("sandbox-server", f"hcloud-request-{request.pk}") == []  # the request's state


def test_it_walks_the_seed_flow_from_form_to_a_finished_execution_and_a_chat_message(
    story: HcloudFake, live_server: Any, celery_worker: Any, new_page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flows/hetzner-web-server.yml: Terraform, Ansible, an HTTP check and a Slack message."""
    from portal.requests.models import ResourceRequest
    from tests.portal.test_chat_notifications import Receiver
    from tests.portal.test_seed_flow import CheckTarget

    slack, target = Receiver(), CheckTarget(200)
    slack.thread.start()
    for name, value in (
        ("SLACK_WEBHOOK_URL", f"http://{slack.base}/hook"),
        ("SANDBOX_CHECK_URL", target.url),
    ):
        monkeypatch.setenv(f"SECRET_{name}", base64.b64encode(value.encode()).decode())
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # ansible-playbook
    try:
        base = live_server.url
        developer = new_page()
        _log_in(developer, base, "requester")
        developer.goto(f"{base}/flows/portico.infra/hetzner-web-server/")
        developer.fill("#id_name", "seed-web")
        developer.fill("#id_site_title", "Seed story")
        developer.fill("#id_ssh_public_key", SSH_KEY)
        developer.locator("form:has(select[name='cost_center']) [type=submit]").click()
        developer.wait_for_url(re.compile(r"/requests/\d+/"))
        request = ResourceRequest.objects.get(catalog_flow__flow_id="hetzner-web-server")

        approver = new_page()
        _log_in(approver, base, "approver")
        _approve(approver, base, request.pk)
        developer.locator("#execution[data-state='SUCCEEDED']").wait_for(timeout=180_000)
        for task in ("configure", "check", "tell_success"):
            assert developer.locator("#execution", has_text=task).count() == 1
        EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
        developer.screenshot(path=str(EVIDENCE_DIR / "seed-flow-finished.png"), full_page=True)
        (message,) = slack.wait(1)
        assert message["text"].startswith("*seed-web* is ready for requester: Terraform created server ")
    finally:
        slack.server.shutdown()
        slack.server.server_close()
        target.close()
