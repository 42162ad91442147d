"""Kestra's HTTP tasks against a real local HTTP(S) server, through a real worker."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel import spec, storage
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import Execution, LogLine, State

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TOKEN = "s3cr3t-bearer-token"


class Peer(BaseHTTPRequestHandler):
    """Routes the tests call; ``/echo`` answers with what it received."""

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length) if length else b""
        if path == "/json":
            self._send(200, b'{"hello": "world"}', {"Content-Type": "application/json", "X-Multi": "a"})
        elif path == "/echo":
            echo = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": received.decode("utf-8", "replace"),
            }
            self._send(200, json.dumps(echo).encode(), {"Content-Type": "application/json"})
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"nope")
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/json"})
        elif path.startswith("/big/"):
            self._send(200, b"x" * int(path.rsplit("/", 1)[1]), {"Content-Type": "text/plain"})
        elif path == "/basic":
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"user:pass").decode()
            self._send(200 if ok else 401, b"basic ok" if ok else b"who?")
        elif path == "/bearer":
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            self._send(200 if ok else 401, b"bearer ok" if ok else b"who?")
        elif path == "/file":
            self._send(200, b"a,b\n1,2\n", {"Content-Disposition": 'attachment; filename="../report.csv"'})
        elif path == "/empty":
            self._send(200, b"")
        elif path == "/slow":
            time.sleep(3)
            self._send(200, b"late")
        else:
            self._send(404, b"no route")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


@pytest.fixture
def peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tls_peer(tmp_path: Path) -> Iterator[str]:
    """The same routes over HTTPS with a self-signed certificate (no trust store knows it)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def flow(task: str, inputs: str = "") -> str:
    return f"id: http\nnamespace: tests\n{inputs}tasks:\n  - id: call\n{task}"


def outputs(execution: Execution) -> dict[str, Any]:
    return execution.task_runs.get(task_id="call").outputs


def test_it_gets_a_json_body_with_code_headers_and_uri(run_flow: Any, peer: str) -> None:
    execution = run_flow(flow(f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/json\n"))

    assert execution.state == State.SUCCESS
    out = outputs(execution)
    assert (out["code"], out["uri"], out["body"]) == (200, f"{peer}/json", '{"hello": "world"}')
    assert out["headers"]["content-type"] == ["application/json"]
    assert out["headers"]["x-multi"] == ["a"]


def test_it_posts_a_body_with_its_content_type_and_headers(run_flow: Any, peer: str) -> None:
    task = (
        "    type: io.kestra.plugin.core.http.Request\n"
        f"    uri: {peer}/echo?q=a b\n"
        "    method: post\n"
        "    contentType: text/plain\n"
        "    headers:\n      X-Trace: '{{ inputs.trace }}'\n"
        "    body: 'hello {{ inputs.trace }}'\n"
    )
    inputs = "inputs:\n  - id: trace\n    type: STRING\n"

    execution = run_flow(flow(task, inputs), {"trace": "t-1"})

    assert execution.state == State.SUCCESS
    echo = json.loads(outputs(execution)["body"])
    assert (echo["method"], echo["path"], echo["body"]) == ("POST", "/echo?q=a%20b", "hello t-1")
    assert echo["headers"]["content-type"] == "text/plain"
    assert echo["headers"]["x-trace"] == "t-1"


def test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file(run_flow: Any, peer: str) -> None:
    urlencoded = run_flow(
        flow(
            "    type: io.kestra.plugin.core.http.Request\n"
            f"    uri: {peer}/echo\n    method: POST\n"
            "    contentType: application/x-www-form-urlencoded\n"
            "    formData:\n      user: Ada Lovelace\n      n: 3\n"
        )
    )
    echo = json.loads(outputs(urlencoded)["body"])
    assert echo["body"] == "user=Ada+Lovelace&n=3"

    multipart = run_flow(
        "id: http\nnamespace: tests\ntasks:\n"
        f"  - id: fetch\n    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/file\n"
        f"  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/echo\n"
        "    method: POST\n    contentType: multipart/form-data\n"
        "    formData:\n      note: hi\n      upload: '{{ outputs.fetch.uri }}'\n"
    )
    assert multipart.state == State.SUCCESS
    echo = json.loads(outputs(multipart)["body"])
    assert echo["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="note"' in echo["body"] and "hi" in echo["body"]
    assert 'name="upload"; filename="report.csv"' in echo["body"] and "a,b\n1,2\n" in echo["body"]


def test_it_fails_on_an_error_status_unless_allow_failed(run_flow: Any, peer: str) -> None:
    failed = run_flow(flow(f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/status/500\n"))
    allowed = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/status/404\n"
            "    options:\n      allowFailed: true\n"
        )
    )
    deprecated = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/status/404\n"
            "    allowFailed: true\n"
        )
    )

    assert failed.state == State.FAILED
    assert "Failed http request with response code '500'" in failed.task_runs.get().error
    assert allowed.state == deprecated.state == State.SUCCESS
    assert (outputs(allowed)["code"], outputs(allowed)["body"]) == (404, "nope")


def test_it_follows_redirects_unless_told_not_to(run_flow: Any, peer: str) -> None:
    followed = run_flow(flow(f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/redirect\n"))
    kept = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/redirect\n"
            "    options:\n      followRedirects: false\n"
        )
    )

    assert (outputs(followed)["code"], outputs(followed)["body"]) == (200, '{"hello": "world"}')
    assert outputs(followed)["uri"] == f"{peer}/redirect"  # the request sent, as Kestra reports it
    assert outputs(kept)["code"] == 302
    assert outputs(kept)["headers"]["location"] == ["/json"]


def test_it_authenticates_with_basic_and_bearer_and_masks_the_secret(run_flow: Any, peer: str) -> None:
    basic = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/basic\n"
            "    options:\n      auth: {type: BASIC, username: user, password: pass}\n"
        )
    )
    old_basic = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/basic\n"
            "    options:\n      basicAuthUser: user\n      basicAuthPassword: pass\n"
        )
    )
    bearer = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/bearer\n"
            "    options:\n      auth: {type: BEARER, token: '{{ inputs.token }}'}\n"
            "      logs: [REQUEST_HEADERS]\n",
            "inputs:\n  - id: token\n    type: SECRET\n",
        ),
        {"token": TOKEN},
    )

    assert [outputs(e)["body"] for e in (basic, old_basic, bearer)] == ["basic ok", "basic ok", "bearer ok"]
    logged = " ".join(LogLine.objects.filter(execution=bearer).values_list("message", flat=True))
    assert "authorization" in logged.lower()  # the header was logged, as options.logs asked
    assert TOKEN not in logged


def test_it_verifies_tls_by_default(run_flow: Any, tls_peer: str) -> None:
    verified = run_flow(flow(f"    type: io.kestra.plugin.core.http.Request\n    uri: {tls_peer}/json\n"))
    trusting = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {tls_peer}/json\n"
            "    options:\n      ssl: {insecureTrustAllCertificates: true}\n"
        )
    )
    deprecated = run_flow(  # Kestra's older spelling, sslOptions, means the same
        flow(
            f"    type: io.kestra.plugin.core.http.Download\n    uri: {tls_peer}/file\n"
            "    sslOptions: {insecureTrustAllCertificates: true}\n"
        )
    )

    assert verified.state == State.FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in verified.task_runs.get().error
    assert trusting.state == deprecated.state == State.SUCCESS
    assert outputs(trusting)["body"] == '{"hello": "world"}'


def test_it_fails_clearly_on_a_closed_port_and_a_read_timeout(run_flow: Any, peer: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    refused = run_flow(flow(f"    type: io.kestra.plugin.core.http.Request\n    uri: http://127.0.0.1:{closed}/\n"))
    slow = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/slow\n"
            "    options:\n      timeout: {readIdleTimeout: PT0.5S}\n"
        )
    )

    assert refused.state == slow.state == State.FAILED
    assert "cannot connect" in refused.task_runs.get().error
    assert "timed out" in slow.task_runs.get().error


def test_it_refuses_a_body_over_max_content_length_and_stores_a_large_one(
    run_flow: Any, peer: str, settings: Any
) -> None:
    settings.PORTICO_HTTP_INLINE_BODY_BYTES = 1000
    too_big = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/big/5000\n"
            "    options:\n      maxContentLength: 4096\n"
        )
    )
    stored = run_flow(flow(f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/big/5000\n"))

    assert too_big.state == State.FAILED
    assert "larger than maxContentLength (4096 bytes)" in too_big.task_runs.get().error
    assert stored.state == State.SUCCESS
    out = outputs(stored)
    assert out["body"] is None and out["code"] == 200
    assert storage.read(stored, out["bodyUri"]) == b"x" * 5000


def test_it_downloads_into_internal_storage(run_flow: Any, peer: str) -> None:
    execution = run_flow(flow(f"    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/file\n"))

    assert execution.state == State.SUCCESS
    out = outputs(execution)
    assert (out["code"], out["length"]) == (200, 8)
    assert out["uri"].startswith("kestra:///tests/http/executions/") and out["uri"].endswith("/report.csv")
    assert storage.read(execution, out["uri"]) == b"a,b\n1,2\n"
    assert out["headers"]["content-disposition"] == ['attachment; filename="../report.csv"']


def test_it_fails_an_empty_download_unless_told_not_to(run_flow: Any, peer: str) -> None:
    failed = run_flow(flow(f"    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/empty\n"))
    allowed = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/empty\n"
            "    failOnEmptyResponse: false\n"
        )
    )

    missing = run_flow(flow(f"    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/status/404\n"))
    kept = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/status/404\n"
            "    options: {allowFailed: true}\n"
        )
    )
    kept_old = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Download\n    uri: {peer}/status/404\n"
            "    allowFailed: true\n"
        )
    )

    assert failed.state == missing.state == State.FAILED
    assert "No response from server" in failed.task_runs.get().error
    assert "Failed http request with response code '404'" in missing.task_runs.get().error
    assert allowed.state == State.SUCCESS and outputs(allowed)["length"] == 0
    assert kept.state == kept_old.state == State.SUCCESS
    assert (outputs(kept)["code"], storage.read(kept, outputs(kept)["uri"])) == (404, b"nope")


def test_it_retries_a_failed_call_under_a_retry_policy(run_flow: Any, peer: str) -> None:
    execution = run_flow(
        flow(
            f"    type: io.kestra.plugin.core.http.Request\n    uri: {peer}/status/503\n"
            "    retry: {type: constant, interval: PT0.1S, maxAttempt: 2}\n"
        )
    )

    assert execution.state == State.FAILED
    assert execution.task_runs.get().attempts == 2


@pytest.mark.parametrize(
    "props, message",
    [
        ("    uri: http://x\n    encryptBody: true\n", "not supported yet"),
        ("    uri: http://x\n    options: {proxy: {type: SOCKS, address: p}}\n", "not supported yet"),
        ("    uri: http://x\n    options: {retries: 3}\n", "unknown property"),
        ("    uri: http://x\n    method: FETCH\n", "method"),
        ("    uri: http://x\n    options: {auth: {type: BEARER}}\n", "BEARER auth needs a token"),
        ("    uri: http://x\n    options: {defaultCharset: klingon}\n", "unknown charset"),
    ],
)
def test_it_refuses_what_it_cannot_do_at_load(props: str, message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(flow("    type: io.kestra.plugin.core.http.Request\n" + props), file="http.yml")

    assert message in str(caught.value)


def test_it_refuses_a_uri_that_is_not_http(run_flow: Any) -> None:
    execution = run_flow(flow("    type: io.kestra.plugin.core.http.Request\n    uri: file:///etc/passwd\n"))

    assert execution.state == State.FAILED
    assert "must be an http:// or https:// URL" in execution.task_runs.get().error
