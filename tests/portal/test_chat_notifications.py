"""Chat notifications through Apprise: a real local HTTP receiver parses what each channel gets.

Channels are per namespace (a prefix covers the namespaces below it) and per event; a channel that
fails is retried alone and logged by name, never by URL; the admin never shows the URL back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from portal.notifications import chat
from portal.notifications.models import ChatChannel, ChatEvent
from portal.requests.models import ResourceRequest
from portal.requests.services import submit_request
from portal.resources import services as resources
from portal.resources.models import Resource

from .conftest import VALID_INPUTS

TOKEN = "xoxb-chat-token-4f9c2d7e"


class Receiver:
    """A local HTTP server that records the JSON bodies POSTed to it, refusing the first ``fail`` ones."""

    def __init__(self, fail: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail = fail
        self.attempts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    refuse = receiver.attempts <= receiver.fail
                    if not refuse:
                        receiver.received.append(json.loads(body))
                        receiver.paths.append(self.path)
                self.send_response(500 if refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": false}' if refuse else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def json_url(self, path: str = "hook") -> str:
        return f"json://{self.base}/{path}/{TOKEN}"

    def wait(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"expected {count} chat messages, got {self.received}")
            time.sleep(0.05)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def channel(name: str, url: str, namespace: str, events: list[str], active: bool = True) -> ChatChannel:
    made = ChatChannel(name=name, namespace=namespace, events=events, active=active)
    made.set_url(url)
    made.save()
    return made


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.worker
def test_it_posts_each_event_to_the_channels_of_its_namespace_in_plain_words(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, bob: Any, plat: Any, settings: Any
) -> None:
    settings.PORTICO_BASE_URL = "https://portal.example.com"
    alice.first_name, alice.last_name = "Alice", "Liddell"
    alice.save()
    bob.first_name, bob.last_name = "Bob", "Builder"
    bob.save()
    team, finished_only, other, off = Receiver(), Receiver(), Receiver(), Receiver()
    for r in (team, finished_only, other, off):
        r.thread.start()
    try:
        every = [e.value for e in ChatEvent]
        channel("team", team.json_url(), "portico", ["requested", "decided", "finished"])
        channel("ends", finished_only.json_url(), "portico.tests", ["finished"])
        channel("elsewhere", other.json_url(), "portico.testsx", every)  # a prefix is a whole namespace
        channel("off", off.json_url(), "", every, active=False)

        client.force_login(alice)
        client.post(
            reverse("requests:new", args=["portico.tests", "all-inputs"]),
            {**VALID_INPUTS, "cost_center": plat.pk},
        )
        request = ResourceRequest.objects.get()
        client.force_login(bob)
        client.post(
            reverse("approvals:decide", args=[request.pk]), {"decision": "approve", "comment": "go ahead"}
        )

        got = team.wait(3)
        ends = finished_only.wait(1)
    finally:
        for r in (team, finished_only, other, off):
            r.server.shutdown()
            r.server.server_close()

    link = f"https://portal.example.com/requests/{request.pk}/"
    assert [m["type"] for m in got] == ["info", "success", "success"]
    assert got[0]["title"] == "Alice Liddell requested All inputs"
    assert got[0]["message"] == (
        f"Alice Liddell requested “All inputs” (request #{request.pk}, cost center PLAT-001). "
        f"It waits for approval: {link}"
    )
    assert got[1]["message"] == (
        f"Alice Liddell's request #{request.pk} for “All inputs” was approved by Bob Builder. "
        f"Comment: “go ahead”. {link}"
    )
    assert got[2]["message"].startswith(
        f"Alice Liddell's request #{request.pk} for “All inputs” has finished:"
    )
    assert "succeeded" in got[2]["message"] and got[2]["message"].endswith(link)
    assert ends == [got[2]]
    assert team.paths[0] == f"/hook/{TOKEN}"
    assert other.received == [] and off.received == []
    assert "s3cr3t-value" not in json.dumps(got)  # a SECRET input never reaches a chat room


@pytest.mark.worker
def test_it_retries_a_failing_channel_alone_and_logs_it_by_name_never_by_url(
    celery_worker: Any, catalog: Any, alice: Any, plat: Any, settings: Any, caplog: Any
) -> None:
    settings.PORTICO_CHAT_RETRY_SECONDS = 0.05
    flaky, steady = Receiver(fail=2), Receiver()
    for r in (flaky, steady):
        r.thread.start()
    try:
        made = channel("flaky room", flaky.json_url(), "portico.tests", ["requested"])
        channel("steady room", steady.json_url(), "portico.tests", ["requested"])
        with caplog.at_level(logging.INFO):
            request = submit_request(
                requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
            )
            (message,) = flaky.wait(1)
            assert steady.wait(1) == [message]  # the steady one got it once, not once per retry
    finally:
        for r in (flaky, steady):
            r.server.shutdown()
            r.server.server_close()

    assert flaky.attempts == 3 and len(steady.received) == 1
    assert f"request #{request.pk}" in message["message"]
    failures = [r.getMessage() for r in caplog.records if r.name == "portal.notifications.tasks"]
    assert len(failures) == 2, failures
    assert failures[0].startswith(f"chat channel 'flaky room' (#{made.pk}) refused 'requested':")
    assert "attempt 1 of 6" in failures[0] and "attempt 2 of 6" in failures[1]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything and flaky.base not in everything


@pytest.mark.worker
def test_it_gives_up_after_its_retries_with_a_clear_error(
    celery_worker: Any, catalog: Any, alice: Any, plat: Any, settings: Any, caplog: Any
) -> None:
    settings.PORTICO_CHAT_RETRY_SECONDS = 0.01
    down = Receiver(fail=100)
    down.thread.start()
    try:
        made = channel("down room", down.json_url(), "", ["requested"])
        with caplog.at_level(logging.INFO):
            submit_request(
                requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
            )
            deadline = time.monotonic() + 30
            while not [r for r in caplog.records if r.levelno == logging.ERROR]:
                assert time.monotonic() < deadline, "no final error logged"
                time.sleep(0.05)
    finally:
        down.server.shutdown()
        down.server.server_close()
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error.startswith(f"chat channel 'down room' (#{made.pk}) refused 'requested'")
    assert error.endswith("gave up after 6 attempts") and down.attempts == 6
    assert TOKEN not in "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.worker
def test_it_posts_a_resource_expiry_to_the_resource_namespace(
    celery_worker: Any, catalog: Any, alice: Any, plat: Any, receiver: Receiver, settings: Any
) -> None:
    settings.PORTICO_BASE_URL = "https://portal.example.com"
    channel("infra", receiver.json_url(), "portico.tests", ["resource_expiring"])
    request = ResourceRequest.objects.create(
        requester=alice,
        catalog_flow=catalog["all-inputs"],
        flow_source="",
        flow_revision="x",
        cost_center=plat,
    )
    expires = timezone.now() + timedelta(hours=2)
    resource = Resource.objects.create(
        kind="hcloud-server",
        name="web-1",
        owner=alice,
        cost_center=plat,
        request=request,
        namespace="portico.tests",
        expires_at=expires,
    )

    assert resources.warn_expiring() == [resource.pk]
    (message,) = receiver.wait(1)
    when = expires.strftime("%Y-%m-%d %H:%M UTC")
    assert message["type"] == "warning" and message["title"] == f"web-1 expires {when}"
    assert message["message"] == (
        f"alice's hcloud-server “web-1” (cost center PLAT-001) expires on {when} and is then destroyed. "
        f"Extend it here: https://portal.example.com/resources/{resource.pk}/"
    )
    resources.warn_expiring()  # warned already: no second post
    time.sleep(0.5)
    assert len(receiver.received) == 1


def test_it_stores_the_url_encrypted_and_never_shows_it_in_the_admin(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    url = f"json://127.0.0.1:9/hook/{TOKEN}"
    add = reverse("admin:notifications_chatchannel_add")
    response = client.post(
        add,
        {
            "name": "ops",
            "namespace": "portico.infra",
            "url": url,
            "events": ["requested", "finished"],
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = ChatChannel.objects.get()
    assert made.events == ["requested", "finished"] and made.url() == url
    assert TOKEN not in json.dumps(made.sealed_url) and made.masked_url == "json://******"
    raw = ChatChannel.objects.values_list("sealed_url", flat=True).get()
    assert set(raw) == {"$secret"}

    change = reverse("admin:notifications_chatchannel_change", args=[made.pk])
    for page in (reverse("admin:notifications_chatchannel_changelist"), change):
        html = client.get(page).content.decode()
        assert TOKEN not in html and "127.0.0.1:9" not in html and "json://******" in html

    # Saving without a URL keeps the one stored; the admin's history names the field, not the value.
    client.post(change, {"name": "ops room", "namespace": "portico.infra", "url": "", "events": ["decided"]})
    made.refresh_from_db()
    assert made.name == "ops room" and made.url() == url and made.active is False
    client.post(change, {"name": "ops room", "namespace": "", "url": url + "x", "events": ["decided"]})
    made.refresh_from_db()
    assert made.url() == url + "x"
    assert TOKEN not in " ".join(LogEntry.objects.values_list("change_message", flat=True))


@pytest.mark.parametrize("bad", ["nosuchscheme://x/y", "json://" + "a" * 2100, "   "])
def test_it_refuses_a_url_apprise_cannot_use_without_echoing_it(
    client: Any, admin_user: Any, bad: str
) -> None:
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:notifications_chatchannel_add"), {"name": "x", "url": bad, "events": ["requested"]}
    )
    assert response.status_code == 200 and ChatChannel.objects.count() == 0
    html = response.content.decode()
    assert bad.strip() == "" or bad not in html
    assert "Apprise" in html or "needs its Apprise URL" in html


def test_a_namespace_covers_itself_and_the_namespaces_below_it() -> None:
    made = ChatChannel(namespace="portico.infra")
    assert made.covers("portico.infra") and made.covers("portico.infra.eu")
    assert not made.covers("portico.infrastructure") and not made.covers("portico")
    assert ChatChannel(namespace="").covers("anything")


def test_url_secrets_cover_every_part_that_may_be_a_token() -> None:
    parts = chat.url_secrets("slack://TokenA/TokenB/TokenC/#general?footer=no&key=abcd")
    assert {"TokenA", "TokenB", "TokenC", "abcd"} <= set(parts)
