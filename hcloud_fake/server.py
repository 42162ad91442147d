"""The fake's HTTP side: a stdlib threaded server, bearer auth, fault injection and a request recorder.

Start one per test (``with HcloudFake() as fake``) and point the SDK at ``fake.endpoint``; or run it
standalone with ``python -m hcloud_fake``. Every request/response pair is kept in ``fake.exchanges``
so tests can validate both directions against the official schema.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hcloud_fake.api import Call, resolve
from hcloud_fake.cloud import ApiError, Cloud
from hcloud_fake.faults import DEFAULT_CODES, Fault, FaultQueue

DEFAULT_TOKEN = "portico-fake-token"
API_PREFIX = "/v1"
RATE_LIMIT = 3600  # requests per hour, the API's documented default


@dataclass
class Exchange:
    """One request and what the fake answered (``status`` is None when a timeout fault dropped it)."""

    method: str
    path: str  # without the /v1 prefix, as the schema spells paths
    query: dict[str, list[str]]
    request_headers: dict[str, str]
    request_body: Any
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    fault: Fault | None = None


class _RateLimiter:
    """Enough bookkeeping to send plausible ``RateLimit-*`` headers: one request refills per second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining = float(RATE_LIMIT)
        self._at = time.monotonic()

    def headers(self, exhausted: bool = False) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            self._remaining = min(RATE_LIMIT, self._remaining + (now - self._at)) - 1
            self._at = now
            if exhausted:
                self._remaining = 0
            remaining = max(0, int(self._remaining))
        reset = int(time.time()) + (RATE_LIMIT - remaining)
        return {
            "RateLimit-Limit": str(RATE_LIMIT),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorder is the log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        inside = url.path.startswith(API_PREFIX + "/")
        path = url.path[len(API_PREFIX) :] if inside else url.path
        exchange = Exchange(
            method=self.command,
            path=path,
            query=parse_qs(url.query, keep_blank_values=True),
            request_headers=dict(self.headers.items()),
            request_body=_decode(raw),
        )
        fake._record(exchange)
        status, body, extra = fake._answer(exchange, raw, inside)
        if status is None:
            self.close_connection = True
            return
        payload = b"" if body is None else json.dumps(body).encode()
        headers = {"X-Correlation-Id": uuid.uuid4().hex[:16], **extra}
        if body is not None:
            headers["Content-Type"] = "application/json"
        exchange.status, exchange.response_headers, exchange.response_body = status, headers, body
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: HcloudFake):
        self.fake = fake
        super().__init__(address, _Handler)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class HcloudFake:
    """A local Hetzner Cloud API. ``action_polls``/``action_seconds`` set how long actions run."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        action_polls: int = 1,
        action_seconds: float | None = None,
    ):
        self.token = token
        self.cloud = Cloud(action_polls=action_polls, action_seconds=action_seconds)
        self.faults = FaultQueue()
        self._exchanges: list[Exchange] = []
        self._exchanges_lock = threading.Lock()
        self._rate = _RateLimiter()
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        """What ``hcloud.Client(endpoint=...)`` takes."""
        return self.url + API_PREFIX

    def start(self) -> HcloudFake:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hcloud-fake", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Foreground mode for ``python -m hcloud_fake``."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HcloudFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- recorder --

    @property
    def exchanges(self) -> list[Exchange]:
        with self._exchanges_lock:
            return list(self._exchanges)

    def clear_exchanges(self) -> None:
        with self._exchanges_lock:
            self._exchanges.clear()

    def _record(self, exchange: Exchange) -> None:
        with self._exchanges_lock:
            self._exchanges.append(exchange)

    # -- fault injection --

    def fail_next(
        self,
        status: int,
        code: str | None = None,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests with an error body of ``code``."""
        code = code or DEFAULT_CODES.get(status, "service_error")
        return self.faults.add(
            Fault(
                kind="error",
                times=times,
                method=method,
                path=path,
                status=status,
                code=code,
                message=message or f"{code} (injected)",
                details=details,
            )
        )

    def rate_limit_next(self, *, times: int = 1, method: str | None = None, path: str | None = None) -> Fault:
        return self.fail_next(
            429,
            "rate_limit_exceeded",
            times=times,
            method=method,
            path=path,
            message="limit of 3600 requests per hour reached",
        )

    def resource_unavailable_next(self, *, times: int = 1) -> Fault:
        """Server create fails as when a type is sold out in a location (permanent, not retried)."""
        return self.fail_next(
            412,
            "resource_unavailable",
            times=times,
            method="POST",
            path="/servers",
            message="error during placement",
        )

    def timeout_next(
        self, delay: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> Fault:
        """Hold the next matching requests for ``delay`` seconds, then drop them unprocessed."""
        return self.faults.add(Fault(kind="timeout", times=times, method=method, path=path, delay=delay))

    # -- answering --

    def _answer(
        self, exchange: Exchange, raw: bytes, inside: bool
    ) -> tuple[int | None, dict[str, Any] | None, dict[str, str]]:
        found = resolve(exchange.method, exchange.path) if inside else None
        template = found[0].template if found else None
        fault = self.faults.take(exchange.method, exchange.path, template)
        exchange.fault = fault
        if fault is not None and fault.kind == "timeout":
            self._stopping.wait(fault.delay)
            return None, None, {}
        if fault is not None:
            error = ApiError(fault.status, fault.code, fault.message, fault.details)
            return fault.status, error.body(), self._rate.headers(exhausted=fault.status == 429)
        headers = self._rate.headers()
        if exchange.request_headers.get("Authorization") != f"Bearer {self.token}":
            return 401, ApiError(401, "unauthorized", "unable to authenticate").body(), headers
        if found is None:
            return (
                404,
                ApiError(404, "not_found", f"no route for {exchange.method} {exchange.path}").body(),
                headers,
            )
        if raw and not isinstance(exchange.request_body, dict | list):
            return 400, ApiError(400, "json_error", "request body is not valid JSON").body(), headers
        route, params = found
        try:
            with self.cloud.lock:
                self.cloud.actions.tick()
                status, body = route.handler(self.cloud, Call(params, exchange.query, exchange.request_body))
                body = None if body is None else json.loads(json.dumps(body))  # snapshot under the lock
        except ApiError as error:
            return error.status, error.body(), headers
        return status, body, headers
