"""Slack, Teams and Discord webhooks and MailSend against real local peers (HTTP and SMTP servers)."""

from __future__ import annotations

import email
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from orchestrator.flowmodel import spec
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import LogLine, State

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


class Receiver(BaseHTTPRequestHandler):
    """An incoming-webhook endpoint: keeps what it got; ``/fail`` answers 500."""

    received: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        )
        code, answer = (500, b"boom") if self.path == "/fail" else (200, b"ok")
        self.send_response(code)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Receiver.received
    server.shutdown()
    server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd)
        message = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port: aiosmtpd checks readiness by connecting to it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def flow(task: str, inputs: str = "") -> str:
    return f"id: notify\nnamespace: tests\n{inputs}tasks:\n  - id: send\n{task}"


def test_it_posts_slack_payloads_and_converts_message_text(run_flow: Any, hook: Any) -> None:
    url, received = hook
    payload = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n"
            f"    url: {url}/slack\n"
            "    payload: '{{ {\"text\": \"done: \" ~ inputs.who} | toJson }}'\n",
            "inputs:\n  - id: who\n    type: STRING\n",
        ),
        {"who": "Ada"},
    )
    text = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n"
            f"    url: {url}/slack\n"
            "    messageText: '**Server** ready, see [the page](https://example.com/x)'\n"
            "    options: {headers: {X-Team: platform}}\n"
        )
    )

    assert payload.state == text.state == State.SUCCESS
    assert json.loads(received[0]["body"]) == {"text": "done: Ada"}
    assert received[0]["headers"]["content-type"] == "application/json"
    assert json.loads(received[1]["body"]) == {"text": "*Server* ready, see <https://example.com/x|the page>"}
    assert received[1]["headers"]["x-team"] == "platform"
    assert LogLine.objects.filter(execution=text, message="Request succeeded").exists()


def test_it_posts_teams_and_discord_payloads(run_flow: Any, hook: Any) -> None:
    url, received = hook
    teams = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook\n"
            f"    url: {url}/teams\n"
            "    payload: '{\"@type\": \"MessageCard\", \"text\": \"hi\"}'\n"
            "    options: {readTimeout: PT5S, headers: {X-Channel: ops}}\n"
        )
    )
    discord = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook\n"
            f"    url: {url}/discord\n"
            "    payload: '{\"content\": \"hi\"}'\n"
        )
    )

    assert teams.state == discord.state == State.SUCCESS
    assert received[0]["headers"]["x-channel"] == "ops"
    assert [(r["path"], json.loads(r["body"])) for r in received] == [
        ("/teams", {"@type": "MessageCard", "text": "hi"}),
        ("/discord", {"content": "hi"}),
    ]


def test_it_fails_on_an_error_status_and_an_unreachable_url(run_flow: Any, hook: Any) -> None:
    url, _ = hook
    failed = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n"
            f"    url: {url}/fail\n    messageText: hi\n"
        )
    )
    unreachable = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook\n"
            "    url: http://127.0.0.1:9/x\n    payload: '{\"content\": \"hi\"}'\n"
            "    options: {connectTimeout: PT1S}\n"
        )
    )
    bad_json = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook\n"
            f"    url: {url}/x\n    payload: 'not json'\n"
        )
    )

    assert failed.state == unreachable.state == bad_json.state == State.FAILED
    assert "Failed http request with response code '500'" in failed.task_runs.get().error
    assert "ConnectError" in unreachable.task_runs.get().error
    assert "payload is not valid JSON" in bad_json.task_runs.get().error


def test_it_sends_an_email_with_html_cc_and_a_stored_attachment(run_flow: Any, smtp: Any) -> None:
    port, inbox = smtp
    execution = run_flow(
        "id: notify\nnamespace: tests\ntasks:\n"
        "  - id: report\n    type: io.kestra.plugin.core.storage.LocalFiles\n"
        "    inputs: {report.csv: \"a,b\\n1,2\\n\"}\n    outputs: [report.csv]\n"
        "  - id: send\n    type: io.kestra.plugin.notifications.mail.MailSend\n"
        f"    host: 127.0.0.1\n    port: {port}\n    transportStrategy: SMTP\n"
        "    from: portico@example.com\n    to: ada@example.com; bob@example.com\n"
        "    cc: ops@example.com\n    subject: Server ready\n    plainTextContent: It is up.\n"
        "    htmlTextContent: <p>It is <b>up</b>.</p>\n"
        "    attachments:\n      - name: report.csv\n"
        "        uri: '{{ outputs.report.uris[\"report.csv\"] }}'\n"
        "        contentType: text/csv\n"
    )

    assert execution.state == State.SUCCESS, execution.task_runs.filter(state="FAILED").values("error")
    [(sender, recipients, message)] = inbox.messages
    assert sender == "portico@example.com"
    assert sorted(recipients) == ["ada@example.com", "bob@example.com", "ops@example.com"]
    assert (message["Subject"], message["Cc"]) == ("Server ready", "ops@example.com")
    parts = {part.get_content_type(): part for part in message.walk()}
    assert parts["text/plain"].get_payload(decode=True).strip() == b"It is up."
    assert b"<b>up</b>" in parts["text/html"].get_payload(decode=True)
    assert parts["text/csv"].get_filename() == "report.csv"
    assert parts["text/csv"].get_payload(decode=True) == b"a,b\n1,2\n"


def test_it_fails_clearly_when_the_mail_server_is_not_there(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "    type: io.kestra.plugin.notifications.mail.MailSend\n"
            "    host: 127.0.0.1\n    port: 9\n    transportStrategy: SMTP\n    sessionTimeout: 1000\n"
            "    from: a@example.com\n    to: b@example.com\n    subject: x\n"
        )
    )

    assert execution.state == State.FAILED
    assert "cannot send the email" in execution.task_runs.get().error


@pytest.mark.parametrize(
    "task, message",
    [
        (
            "    type: io.kestra.plugin.notifications.mail.MailSend\n    host: h\n    port: 25\n"
            "    from: a@x.io\n    to: b@x.io\n    transportStrategy: SMTP_OAUTH2\n",
            "not supported yet",
        ),
        (
            "    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n    url: http://x\n"
            "    channel: general\n",
            "channel",
        ),
    ],
)
def test_it_refuses_what_it_cannot_do_at_load(task: str, message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(flow(task), file="notify.yml")

    assert message in str(caught.value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tls_smtp(tmp_path: Any) -> Iterator[tuple[int, Inbox]]:
    """An SMTP server that requires STARTTLS with a self-signed certificate, and a login."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=mail.example.com"],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        return AuthResult(success=(auth.login, auth.password) == (b"mailer", b"s3cret"))

    inbox, port = Inbox(), _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=authenticate, auth_require_tls=True,
    )
    controller.start()
    yield port, inbox
    controller.stop()


def test_it_logs_in_over_starttls_and_checks_the_certificate_unless_told(
    run_flow: Any, tls_smtp: Any
) -> None:
    port, inbox = tls_smtp
    base = (
        "    type: io.kestra.plugin.notifications.mail.MailSend\n"
        f"    host: 127.0.0.1\n    port: {port}\n    transportStrategy: SMTP_TLS\n"
        "    username: mailer\n    password: s3cret\n    from: a@example.com\n    to: b@example.com\n"
        "    subject: tls\n    plainTextContent: hi\n"
    )
    verified = run_flow(flow(base))
    unverified = run_flow(flow(base + "    verifyServerIdentity: false\n"))
    trusted = run_flow(flow(base + "    trustedHosts: [127.0.0.1]\n"))

    assert verified.state == State.FAILED and "CERTIFICATE_VERIFY_FAILED" in verified.task_runs.get().error
    assert unverified.state == trusted.state == State.SUCCESS
    assert len(inbox.messages) == 2


def test_it_embeds_images_the_html_refers_to(run_flow: Any, smtp: Any) -> None:
    port, inbox = smtp
    execution = run_flow(
        "id: notify\nnamespace: tests\ntasks:\n"
        "  - id: logo\n    type: io.kestra.plugin.core.storage.Write\n    content: not-really-a-png\n"
        "  - id: send\n    type: io.kestra.plugin.notifications.mail.MailSend\n"
        f"    host: 127.0.0.1\n    port: {port}\n    transportStrategy: SMTP\n"
        "    from: a@example.com\n    to: b@example.com\n    subject: logo\n"
        "    htmlTextContent: '<img src=\"cid:logo.png\">'\n"
        "    embeddedImages:\n      - name: logo.png\n        uri: '{{ outputs.logo.uri }}'\n"
        "        contentType: image/png\n"
    )

    assert execution.state == State.SUCCESS, execution.task_runs.filter(state="FAILED").values("error")
    [(_, _, message)] = inbox.messages
    image = next(part for part in message.walk() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo.png>"
    assert image.get_payload(decode=True) == b"not-really-a-png"
