"""A portal with one of everything to look at, shared by the accessibility and layout browser tests.

The catalog is the project's flows directory plus ``a11y-form``, a flow with one input of each common
kind (validated text, bounded integer, select, boolean) so that a form and its error state can be
checked. People are ``portico_demo``'s accounts.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

PASSWORD = "e2e-Portico-pass-7"
EVIDENCE_DIR = Path(settings.BASE_DIR) / "var" / "e2e"
DOCS_DIR = Path(settings.BASE_DIR) / "docs"
# One long unbreakable word (a key, a token): it must wrap, not push the page sideways.
LONG_NOTE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" * 4
FORM_FLOW_ID, FORM_NAMESPACE = "a11y-form", "demo"
FORM_FLOW = """\
id: a11y-form
namespace: demo
description: Reserve a small web service; each input kind once, for the accessibility and layout tests.
labels:
  portico.title: "Web service"
  team: platform
inputs:
  - id: hostname
    type: STRING
    displayName: Host name
    description: Lowercase letters, digits and '-'.
    validator: "^[a-z][a-z0-9-]*$"
  - id: replicas
    type: INT
    displayName: Replicas
    min: 1
    max: 5
  - id: size
    type: SELECT
    displayName: Size
    values: [small, medium, large]
    defaults: small
  - id: note
    type: STRING
    displayName: Note for the approver
    required: false
  - id: public
    type: BOOL
    displayName: Reachable from the internet
    defaults: false
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.hostname }} runs {{ inputs.replicas }} replica(s)"
"""


def seed_catalog(flows_dir: Path, monkeypatch: Any) -> None:
    """The real flows plus the form flow, and the demo accounts (``make up`` runs the same commands)."""
    flows_dir.mkdir(parents=True, exist_ok=True)
    for source in (Path(settings.BASE_DIR) / "flows").glob("*.yml"):
        shutil.copy(source, flows_dir / source.name)
    (flows_dir / f"{FORM_FLOW_ID}.yml").write_text(FORM_FLOW, encoding="utf-8")
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", PASSWORD)
    call_command("sync_flows", str(flows_dir))
    call_command("portico_demo")


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_login) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def add_resource(request_pk: int) -> Any:
    """A running VM recorded for a finished request, with the day-2 actions the Hetzner flow declares."""
    from portal.requests.models import ResourceRequest
    from portal.resources.models import Resource

    request = ResourceRequest.objects.get(pk=request_pk)
    return Resource.objects.create(
        kind="hcloud-server",
        provider_id="4711",
        name="web-1",
        ipv4="192.0.2.10",
        owner=request.requester,
        cost_center=request.cost_center,
        request=request,
        namespace="portico.infra",
        details={"server_type": "cx22", "location": "fsn1", "image": "ubuntu-24.04"},
        actions={"destroy": "hetzner-vm-destroy", "extend": "resource-extend"},
        monthly_cost="3.79",
        hourly_cost="0.006",
    )


def submit_request(page: Any, base_url: str, hostname: str = "web-1") -> int:
    """Fill and submit the form flow (mouse-free is the keyboard test's business, not this one's)."""
    from portal.requests.models import ResourceRequest

    before = set(ResourceRequest.objects.values_list("pk", flat=True))
    page.goto(f"{base_url}/flows/{FORM_NAMESPACE}/{FORM_FLOW_ID}/")
    page.fill("[name='hostname']", hostname)
    page.fill("[name='replicas']", "2")
    page.fill("[name='note']", LONG_NOTE)
    page.locator("form.form [type=submit]").click()
    page.wait_for_url(lambda url: "/requests/" in url and "/flows/" not in url)
    return next(pk for pk in ResourceRequest.objects.values_list("pk", flat=True) if pk not in before)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


def open_page(browser: Any, *, scheme: str = "light", viewport: dict[str, int] = DESKTOP) -> Any:
    """A page in a fresh context (its own cookies) with the given colour scheme and viewport."""
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def portal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live_server: Any, celery_worker: Any, browser: Any
) -> dict[str, Any]:
    """One finished request with its execution and resource, one pending request, both by ``requester``."""
    from portal.requests.models import ResourceRequest

    seed_catalog(tmp_path / "flows", monkeypatch)
    base = live_server.url
    requester = open_page(browser)
    log_in(requester, base, "requester")
    done = submit_request(requester, base, "web-1")
    approver = open_page(browser)
    log_in(approver, base, "approver")
    approver.goto(f"{base}/approvals/")
    approver.locator(f"#request-{done} button[value='approve']").click()
    approver.wait_for_load_state()
    wait_for(lambda: ResourceRequest.objects.get(pk=done).state == "SUCCEEDED", "the approved run")
    pending = submit_request(requester, base, "web-2")
    resource = add_resource(done)
    requester.context.close()
    approver.context.close()
    execution = ResourceRequest.objects.get(pk=done).execution_id
    return {"base": base, "done": done, "pending": pending, "resource": resource.pk, "execution": execution}


def page_kinds(portal: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(name, who, path) of every page kind the browser tests visit."""
    return [
        ("Sign in", None, "/accounts/login/"),
        ("Catalog", "requester", "/"),
        ("Request form", "requester", f"/flows/{FORM_NAMESPACE}/{FORM_FLOW_ID}/"),
        ("Request page, pending", "requester", f"/requests/{portal['pending']}/"),
        ("Request page, finished", "requester", f"/requests/{portal['done']}/"),
        ("My requests", "requester", "/requests/"),
        ("My resources", "requester", "/resources/"),
        ("Resource", "requester", f"/resources/{portal['resource']}/"),
        ("Approval queue", "approver", "/approvals/"),
        ("Executions", "approver", "/executions/"),
        ("Execution", "approver", f"/executions/{portal['execution']}/"),
        ("Audit log", "admin", "/audit/"),
        ("Log out", "requester", "/accounts/logout/"),
        ("Not found", "requester", "/requests/999999/"),
    ]


def settle(page: Any) -> None:
    """Let htmx fill its lazy slots (price, live panels) before anything is measured."""
    page.wait_for_load_state("networkidle")
