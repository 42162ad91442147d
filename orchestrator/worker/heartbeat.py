"""Task-run heartbeats: how the reconciler tells a slow task from one whose worker vanished.

While a worker process executes task runs, one daemon thread per process refreshes their
``heartbeat`` every ``PORTICO_HEARTBEAT_SECONDS``. A SIGKILLed process stops beating, and once a run's
heartbeat is older than its lease (``PORTICO_TASK_LEASE_SECONDS``) the reconciler re-queues it.
The thread holds no DB connection between beats (a test database can always be dropped).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.utils import timezone

from orchestrator.state.models import State, TaskRun

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_held: dict[str, int] = {}  # task run id -> the attempt this process is running
_thread: threading.Thread | None = None
_thread_pid: int | None = None


def interval() -> float:
    return float(getattr(settings, "PORTICO_HEARTBEAT_SECONDS", 10.0))


def lease() -> float:
    return float(getattr(settings, "PORTICO_TASK_LEASE_SECONDS", 60.0))


def worker_name(hostname: str | None = None) -> str:
    """``celery-hostname/pid``: the process that claimed a run (shown in the admin, kept for forensics)."""
    return f"{hostname or socket.gethostname()}/{os.getpid()}"


class LeaseLost(Exception):
    """The reconciler re-queued the run while this process ran it: its result must be dropped."""


def _lost(taskrun_id: str, attempt: int) -> bool:
    row = TaskRun.objects.filter(pk=taskrun_id).values("state", "attempts").first()
    return row is None or row["attempts"] != attempt or row["state"] in (State.RETRYING, State.QUEUED)


@contextmanager
def beating(taskrun_id: str, attempt: int) -> Iterator[None]:
    """Keep ``taskrun_id``'s heartbeat fresh while the block runs; ``LeaseLost`` if it was taken away.

    The run can only have been re-queued if the block outlived half a lease (its heartbeat was fresh
    when claimed), so short tasks — nearly all — pay no extra query.
    """
    with _lock:
        _held[taskrun_id] = attempt
        _ensure_thread()
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        if time.monotonic() - started > lease() / 2 and _lost(taskrun_id, attempt):
            raise LeaseLost(taskrun_id) from exc
        raise
    finally:
        with _lock:
            _held.pop(taskrun_id, None)
    if time.monotonic() - started > lease() / 2 and _lost(taskrun_id, attempt):
        raise LeaseLost(taskrun_id)


def _ensure_thread() -> None:
    global _thread, _thread_pid
    # After a fork (prefork pool) the parent's thread does not exist in the child: start our own.
    if _thread is not None and _thread.is_alive() and _thread_pid == os.getpid():
        return
    _thread = threading.Thread(target=_loop, name="portico-heartbeat", daemon=True)
    _thread_pid = os.getpid()
    _thread.start()


def _loop() -> None:
    while True:
        time.sleep(interval())
        with _lock:
            held = dict(_held)
        if not held:
            continue
        try:
            now = timezone.now()
            for taskrun_id, attempt in held.items():
                # KILLING too: a run being killed whose heartbeat stops had its worker vanish, and
                # the reconciler then ends it KILLED instead of waiting for an acknowledgement.
                TaskRun.objects.filter(
                    pk=taskrun_id, attempts=attempt, state__in=(State.RUNNING, State.KILLING)
                ).update(heartbeat=now)
        except Exception:  # a DB hiccup must not kill the thread; the next beat tries again
            logger.warning("heartbeat failed", exc_info=True)
        finally:
            connection.close()
