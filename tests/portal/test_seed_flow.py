"""The seed's story, flows/hetzner-web-server.yml, through the portal with a real Celery worker.

A request is approved; Terraform (the offline sandbox module, with the local Hetzner API fake serving
the form's options) creates the server; Ansible (a real ansible-playbook, local connection) writes its
page from the namespace file playbook; an HTTP check calls a local server; a local Slack receiver parses
the message it gets. When the check fails, the error branch posts the failure and the server Terraform
made stays on record.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse

from hcloud_fake import HcloudFake
from orchestrator.state.models import State
from portal.approvals import services as approvals
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests.models import RequestState, ResourceRequest
from portal.resources.models import Resource, ResourceState
from tests.fakes.hcloud_fake import hcloud_fake  # noqa: F401  (fixture)

from .test_chat_notifications import Receiver

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "flows" / "hetzner-web-server.yml"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb5Yb0tJvTQ8nqUu2dXWmT3yHdqkqYtq7c0mVdQ7E0a alice@laptop"
TIMEOUT = 180.0
FORM = {
    "name": "web-7",
    "site_title": "Team Rocket",
    "server_type": "cx22",
    "image": "ubuntu-24.04",
    "location": "nbg1",
    "ssh_public_key": SSH_KEY,
    "lifetime": "7",
}


class CheckTarget:
    """A local web server standing in for the new server's address: answers GETs with ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.hits: list[str] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                target.hits.append(self.path)
                self.send_response(target.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"up" if target.status < 400 else b"down")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _secret(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"SECRET_{name}", base64.b64encode(value.encode()).decode())


@pytest.fixture
def slack() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def story(
    hcloud_fake: HcloudFake,  # noqa: F811
    settings: Any,
    tmp_path: Path,
    celery_worker: Any,
    slack: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, CatalogFlow]:
    settings.HCLOUD_TOKEN = hcloud_fake.token
    settings.HCLOUD_ENDPOINT = hcloud_fake.endpoint
    settings.HCLOUD_TERRAFORM_MODULE = "sandbox-server"
    settings.DATA_DIR = tmp_path / "data"  # Terraform state and working copies of this test only
    # ansible-playbook from this virtualenv, as a worker started from it finds it.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    _secret(monkeypatch, "SLACK_WEBHOOK_URL", f"http://{slack.base}/services/T000/B000/seedtoken")
    cache.clear()
    directory = tmp_path / "flows"
    directory.mkdir()
    for name in ("hetzner-web-server", "hetzner-vm-terraform-destroy", "resource-extend"):
        shutil.copy(ROOT / "flows" / f"{name}.yml", directory)
    report = sync_flows(directory)
    assert report.ok, report.errors
    yield {f.flow_id: f for f in CatalogFlow.objects.all()}
    cache.clear()


def _finished(request: ResourceRequest) -> ResourceRequest:
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = ResourceRequest.objects.filter(
            pk=request.pk, state__in=(RequestState.SUCCEEDED, RequestState.FAILED)
        ).first()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"request #{request.pk} did not finish")
        time.sleep(0.1)


def _request_and_approve(client: Any, alice: Any, bob: Any, plat: Any) -> ResourceRequest:
    client.force_login(alice)
    response = client.post(
        reverse("requests:new", args=["portico.infra", "hetzner-web-server"]),
        {**FORM, "cost_center": plat.pk},
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    request = ResourceRequest.objects.get(requester=alice)
    approvals.approve(request.pk, acting_user=bob, comment="ship it")
    return _finished(request)


def _runs(request: ResourceRequest) -> dict[str, Any]:
    return {run.task_id: run for run in request.execution.task_runs.all()}


def test_the_seed_flow_validates() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "flow", "validate", str(FLOW)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_creates_configures_checks_and_tells_the_channel(
    client: Any, story: Any, slack: Receiver, alice: Any, bob: Any, plat: Any, monkeypatch: Any
) -> None:
    target = CheckTarget(200)
    _secret(monkeypatch, "SANDBOX_CHECK_URL", target.url)
    try:
        request = _request_and_approve(client, alice, bob, plat)
    finally:
        target.close()

    runs = _runs(request)
    assert request.state == RequestState.SUCCEEDED, {k: (r.state, r.outputs) for k, r in runs.items()}
    assert [runs[t].state for t in ("plan", "apply", "configure", "check", "tell_success")] == [
        State.SUCCESS
    ] * 5
    assert "tell_failure" not in runs
    resource = Resource.objects.get(request=request)
    outputs = request.execution.outputs
    assert resource.state == ResourceState.RUNNING and resource.name == "web-7"
    assert resource.provider_id == str(outputs["server_id"]) and resource.state_key == outputs["state_key"]
    # Kestra types a flow output by its ``type`` (INT -> 200); Portico keeps the rendered text for now.
    assert runs["check"].outputs["code"] == 200 and outputs["check_status"] == 200
    assert target.hits == ["/health"]

    configure = runs["configure"]
    assert configure.outputs["exitCode"] == 0
    said = str(configure.outputs)
    assert "web-7 serves site/index.html titled 'Team Rocket'" in said, said

    (message,) = slack.wait(1)
    assert slack.paths == ["/services/T000/B000/seedtoken"]
    assert message["text"] == (
        f"*web-7* is ready for alice: Terraform created server {outputs['server_id']} (cx22 in nbg1, "
        f"{outputs['ipv4']}), Ansible configured it and it answered the check with HTTP 200."
    )


def test_a_failed_check_posts_the_failure_and_keeps_the_server_on_record(
    client: Any, story: Any, slack: Receiver, alice: Any, bob: Any, plat: Any, monkeypatch: Any
) -> None:
    target = CheckTarget(503)
    _secret(monkeypatch, "SANDBOX_CHECK_URL", target.url)
    try:
        request = _request_and_approve(client, alice, bob, plat)
    finally:
        target.close()

    runs = _runs(request)
    assert request.state == RequestState.FAILED
    assert runs["configure"].state == State.SUCCESS and runs["check"].state == State.FAILED
    assert "tell_success" not in runs and runs["tell_failure"].state == State.SUCCESS
    server_id = runs["apply"].outputs["outputs"]["server_id"]

    (message,) = slack.wait(1)
    assert message["text"] == (
        f"*web-7* for alice failed (execution {request.execution_id}): Terraform created server {server_id}, "
        "which is on record; destroy it from its resource page or ask again."
    )
    resource = Resource.objects.get(request=request)
    assert resource.state == ResourceState.ATTENTION and resource.state_key
    assert resource.actions.get("destroy") == "hetzner-vm-terraform-destroy"
