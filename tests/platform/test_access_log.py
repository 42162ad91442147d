"""No credential in any access log: the runner's gunicorn masks webhook keys, reset keys and query values.

One test feeds gunicorn's own ``Logger.atoms`` through the masking logger; one starts the runner's
gunicorn command line, calls a webhook URL and greps everything the server wrote for the key.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from portal.access_log import MaskSecretUrlsFilter, SecretMaskingLogger
from portal.runner import web_command

ROOT = Path(__file__).resolve().parents[2]
KEY = f"whk-{uuid.uuid4().hex}"
TOKEN = f"tok-{uuid.uuid4().hex}"


def _atoms(logger: Logger, raw_uri: str, referer: str = "-") -> dict[str, object]:
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": raw_uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": referer,
    }
    resp = SimpleNamespace(status="202 Accepted", headers=[("Content-Type", "application/json")], sent=42)
    req = SimpleNamespace(headers=[("REFERER", referer)])
    return logger.atoms(resp, req, environ, datetime.timedelta(milliseconds=12))


def test_the_masking_logger_hides_keys_in_every_atom() -> None:
    cfg = Config()
    uri = f"/api/v1/executions/webhook/portico.tests/nightly/{KEY}?token={TOKEN}&mode=fast"
    plain = _atoms(Logger(cfg), uri, referer=f"https://portico.example.com/accounts/password/reset/key/1-{TOKEN}/")
    assert KEY in str(plain) and TOKEN in str(plain)  # what gunicorn alone would write

    masked = _atoms(SecretMaskingLogger(cfg), uri, f"https://x/accounts/password/reset/key/1-{TOKEN}/")
    assert KEY not in str(masked) and TOKEN not in str(masked)
    request_line = "POST /api/v1/executions/webhook/portico.tests/nightly/***?token=***&mode=*** HTTP/1.1"
    assert masked["r"] == request_line
    assert masked["U"] == "/api/v1/executions/webhook/portico.tests/nightly/***"
    assert masked["q"] == "token=***&mode=***"
    assert masked["f"] == "https://x/accounts/password/reset/key/***/"
    assert masked["s"] == "202" and masked["h"] == "203.0.113.9"
    line = cfg.access_log_format % SafeAtoms(masked)  # gunicorn's default format, as it writes it
    assert f'"{request_line}" 202 42' in line
    other = _atoms(SecretMaskingLogger(cfg), "/requests/12/?page=2")
    assert other["r"] == "POST /requests/12/?page=*** HTTP/1.1"


def test_the_log_filter_masks_django_request_messages() -> None:
    path = f"/api/v1/executions/webhook/ns/flow/{KEY}"
    args = ("Not Found", path)
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s: %s", args, None)
    assert MaskSecretUrlsFilter().filter(record)
    assert record.getMessage() == "Not Found: /api/v1/executions/webhook/ns/flow/***"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(method: str, url: str) -> int:
    """The status of one call; 0 while nothing listens yet."""
    request = urllib.request.Request(url, data=b"{}" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0


def test_the_runners_gunicorn_writes_no_key(tmp_path: Path, redis_url: str) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTICO_", "DATABASE_URL"))}
    env.update(
        PORTICO_DATA_DIR=str(tmp_path),
        REDIS_URL=redis_url,  # the counts are shared by gunicorn's workers, as under `make up`
        PORTICO_CACHE_PREFIX=f"test-access-log-{uuid.uuid4().hex}",
        # One call a minute per address: the second answers 429 from the cache, before any database.
        PORTICO_WEBHOOK_RATE_PER_IP="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            web_command(f"127.0.0.1:{port}"), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while _request("GET", f"{base}/static/css/portico.css") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        url = f"{base}/api/v1/executions/webhook/portico.tests/{uuid.uuid4().hex[:8]}/{KEY}?token={TOKEN}"
        assert _request("GET", url) == 405  # counted, then refused by method: logged by Django as well
        assert _request("POST", url) == 429
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "/webhook/portico.tests/" in text and '" 405 ' in text and '" 429 ' in text, text
    assert KEY not in text and TOKEN not in text, text
