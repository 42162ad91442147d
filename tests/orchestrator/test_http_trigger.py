"""Kestra's HTTP polling trigger (``io.kestra.plugin.core.http.Trigger``) against a real local HTTP server,
evaluated by the scheduler's polling mechanism (``orchestrator.scheduler.polling``) and run by a real worker.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orchestrator.flowmodel import spec
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.scheduler import beat_jobs, polling, triggers
from orchestrator.state.models import Execution, State, Trigger
from tests.conftest import wait_for
from tests.orchestrator.test_http_tasks import tls_peer

__all__ = ["tls_peer"]  # the HTTPS peer fixture (a self-signed certificate)

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Endpoint(BaseHTTPRequestHandler):
    """``/price`` answers the price the test sets; ``/echo`` what it received; ``/status/<n>`` a status."""

    price = 120
    calls: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Shop", "local")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length).decode() if length else ""
        Endpoint.calls.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
        if self.path == "/price":
            self._send(200, json.dumps({"price": Endpoint.price}).encode())
        elif self.path == "/echo":
            echo = {"method": self.command, "token": self.headers.get("X-Token"), "body": received}
            if self.headers.get("Authorization"):
                echo["auth"] = self.headers["Authorization"]
            self._send(200, json.dumps(echo).encode())
        elif self.path.startswith("/status/"):
            self._send(int(self.path.rsplit("/", 1)[1]), b'{"down": true}')
        else:
            self._send(404, b"{}")

    do_GET = do_POST = _handle


@pytest.fixture
def shop() -> Iterator[str]:
    Endpoint.price, Endpoint.calls = 120, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def flow(trigger: str, flow_id: str = "watch") -> str:
    return f"""
id: {flow_id}
namespace: tests.polling
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.code }}}} {{{{ json(trigger.body).price }}}} {{{{ trigger.headers['x-shop'][0] }}}}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
{trigger}"""


def sync(text: str) -> Trigger:
    triggers.sync_triggers([spec.parse_flow(text, file="test.yml")])
    return Trigger.objects.get(trigger_id="http")


def executions() -> list[Execution]:
    return list(Execution.objects.filter(namespace="tests.polling").order_by("created"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_loads_interval_and_stop_after_only_on_polling_triggers() -> None:
    polled = flow("    uri: http://x\n    interval: PT30S\n    stopAfter: [SUCCESS]\n")
    loaded = spec.parse_flow(polled, file="f.yml")
    assert loaded.triggers[0].props["interval"] == "PT30S"
    webhook = "triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n"
    text = "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
    text += "    message: hi\n"
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(text + webhook + "    interval: PT30S\n    stopAfter: [SUCCESS]\n", file="f.yml")
    assert [(e.path, e.message) for e in caught.value.errors] == [
        ("triggers[0].interval", "not supported yet"),
        ("triggers[0].stopAfter", "not supported yet"),
    ]
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(flow("    uri: http://x\n    interval: PT0S\n    stopAfter: [DONE]\n"), file="f.yml")
    assert {e.path for e in caught.value.errors} == {"triggers[0].interval", "triggers[0].stopAfter"}


def test_it_starts_an_execution_with_the_response_when_the_condition_holds(
    celery_worker: Any, shop: str
) -> None:
    row = sync(flow(f"    uri: {shop}/price\n    interval: PT1M\n"))
    execution = polling.evaluate(row.pk, now=T0)
    assert execution is not None
    assert execution.trigger["id"] == "http"
    assert execution.trigger["type"] == "io.kestra.plugin.core.http.Trigger"
    assert (execution.trigger["code"], json.loads(execution.trigger["body"])) == (200, {"price": 120})
    assert execution.trigger["uri"] == f"{shop}/price"
    assert execution.trigger["headers"]["x-shop"] == ["local"]
    wait_for(execution)
    assert execution.state == State.SUCCESS
    assert execution.task_runs.get(task_id="seen").outputs["value"] == "200 120 local"
    row.refresh_from_db()
    assert (row.last_scheduled, row.last_execution) == (T0, execution.pk)


def test_it_starts_nothing_when_the_response_condition_is_false(shop: str) -> None:
    failing = sync(flow(f"    uri: {shop}/status/503\n"))  # Kestra's default: statusCode < 400
    assert polling.evaluate(failing.pk, now=T0) is None
    condition = "    responseCondition: \"{{ json(response.body).price <= 110 }}\"\n"
    cheap = sync(flow(f"    uri: {shop}/price\n{condition}", flow_id="watch"))
    assert polling.evaluate(cheap.pk, now=T0 + timedelta(minutes=5)) is None
    assert executions() == []
    assert len(Endpoint.calls) == 2  # both were called: the conditions said no
    Endpoint.price = 99
    assert polling.evaluate(cheap.pk, now=T0 + timedelta(minutes=10)) is not None


def test_it_evaluates_at_most_once_per_interval(shop: str) -> None:
    row = sync(flow(f"    uri: {shop}/status/500\n    interval: PT30S\n"))
    assert polling.evaluate(row.pk, now=T0) is None
    assert polling.evaluate(row.pk, now=T0) is None  # a duplicate message for the same interval
    assert polling.evaluate(row.pk, now=T0 + timedelta(seconds=29)) is None
    assert len(Endpoint.calls) == 1
    assert polling.due(T0 + timedelta(seconds=29)) == []
    assert polling.due(T0 + timedelta(seconds=30)) == [row.pk]
    assert polling.evaluate(row.pk, now=T0 + timedelta(seconds=30)) is None
    assert len(Endpoint.calls) == 2


def test_it_logs_a_failed_call_and_keeps_polling(shop: str, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    row = sync(flow(f"    uri: http://127.0.0.1:{port}/price\n    interval: PT10S\n"))
    with caplog.at_level(logging.WARNING, logger="orchestrator.scheduler.polling"):
        assert polling.evaluate(row.pk, now=T0) is None
    assert "evaluation failed" in caplog.text and "cannot connect" in caplog.text
    assert executions() == []
    # The endpoint is fixed in the flow: the next interval polls it and starts the flow.
    sync(flow(f"    uri: {shop}/price\n    interval: PT10S\n"))
    assert polling.evaluate(row.pk, now=T0 + timedelta(seconds=5)) is None  # not due yet
    assert polling.evaluate(row.pk, now=T0 + timedelta(seconds=10)) is not None


def test_it_sends_the_method_body_and_rendered_headers(shop: str) -> None:
    trigger = (
        f"    uri: {shop}/echo\n    method: post\n    body: '{{\"price\": 1}}'\n"
        "    headers:\n      X-Token: \"{{ flow.namespace }}-token\"\n"
        "    responseCondition: \"{{ json(response.body).token == 'tests.polling-token' }}\"\n"
    )
    row = sync(flow(trigger))
    execution = polling.evaluate(row.pk, now=T0)
    assert execution is not None
    echoed = json.loads(execution.trigger["body"])
    assert echoed == {"method": "POST", "token": "tests.polling-token", "body": '{"price": 1}'}


def test_it_sends_form_data_with_its_content_type_and_the_options_auth(shop: str) -> None:
    trigger = (
        f"    uri: {shop}/echo\n    method: POST\n"
        "    contentType: application/x-www-form-urlencoded\n    formData: {price: 5, currency: EUR}\n"
        "    options: {auth: {type: BEARER, token: poll-token}}\n"
    )
    execution = polling.evaluate(sync(flow(trigger)).pk, now=T0)
    assert execution is not None
    echoed = json.loads(execution.trigger["body"])
    assert (echoed["body"], echoed["auth"]) == ("price=5&currency=EUR", "Bearer poll-token")
    assert Endpoint.calls[0]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_it_verifies_tls_unless_ssl_options_say_otherwise(
    tls_peer: str, caplog: pytest.LogCaptureFixture
) -> None:
    condition = "    responseCondition: '{{ response.statusCode == 200 }}'\n"
    row = sync(flow(f"    uri: {tls_peer}/json\n" + condition))
    with caplog.at_level(logging.WARNING, logger="orchestrator.scheduler.polling"):
        assert polling.evaluate(row.pk, now=T0) is None
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    trusting = "    sslOptions: {insecureTrustAllCertificates: true}\n"
    sync(flow(f"    uri: {tls_peer}/json\n{trusting}"))
    execution = polling.evaluate(row.pk, now=T0 + timedelta(minutes=1))
    assert execution is not None and json.loads(execution.trigger["body"]) == {"hello": "world"}


def test_it_waits_for_its_execution_and_stops_after_the_listed_states(celery_worker: Any, shop: str) -> None:
    row = sync(flow(f"    uri: {shop}/price\n    interval: PT1S\n    stopAfter:\n      - SUCCESS\n"))
    first = polling.evaluate(row.pk, now=T0)
    assert first is not None
    wait_for(first)
    assert first.state == State.SUCCESS
    # Its execution ended SUCCESS, listed in stopAfter: the trigger is switched off, nothing more starts.
    assert polling.evaluate(row.pk, now=T0 + timedelta(seconds=2)) is None
    row.refresh_from_db()
    assert row.enabled is False
    assert polling.due(T0 + timedelta(hours=1)) == []
    assert len(executions()) == 1


def test_it_does_not_poll_while_its_execution_runs(unconsumed_queue: str, shop: str) -> None:
    row = sync(flow(f"    uri: {shop}/price\n    interval: PT1S\n    stopAfter: [FAILED]\n"))
    first = polling.evaluate(row.pk, now=T0)
    assert first is not None and not first.is_terminal  # nobody runs it: it stays unfinished
    assert polling.evaluate(row.pk, now=T0 + timedelta(minutes=5)) is None
    assert len(Endpoint.calls) == 1
    Execution.objects.filter(pk=first.pk).update(state=State.SUCCESS)  # it ended, not in stopAfter
    assert polling.evaluate(row.pk, now=T0 + timedelta(minutes=6)) is not None
    row.refresh_from_db()
    assert row.enabled is True


def test_the_beat_job_evaluates_due_triggers_through_the_worker(celery_worker: Any, shop: str) -> None:
    sync(flow(f"    uri: {shop}/price\n"))
    assert beat_jobs.poll_triggers.apply().get() == 1
    deadline = time.monotonic() + 30
    while not executions():
        assert time.monotonic() < deadline, "the beat job started nothing"
        time.sleep(0.05)
    assert wait_for(executions()[0]).state == State.SUCCESS
    assert beat_jobs.poll_triggers.apply().get() == 0  # not due again before PT60S (Kestra's default)
