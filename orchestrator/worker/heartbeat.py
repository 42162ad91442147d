"""Task-run heartbeats: how the reconciler tells a slow task from one whose worker vanished.

While a worker process executes task runs, one daemon thread per process refreshes their
``heartbeat`` every ``PORTICO_HEARTBEAT_SECONDS``. A SIGKILLed process stops beating, and once a run's
heartbeat is older than its lease (``PORTICO_TASK_LEASE_SECONDS``) the reconciler re-queues it.
The thread holds no DB connection between beats (a test database can always be dropped).

The same thread keeps a worker's *group presence* fresh: one ``KeyValue`` row per (group, worker) in a
namespace no flow can name (``PRESENCE_NAMESPACE``), expiring a lease after its last beat. The dispatch
reads it to tell a worker group with a live worker from one without (Kestra's worker-group fallback).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from orchestrator.state.models import KeyValue, State, TaskRun

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_held: dict[str, int] = {}  # task run id -> the attempt this process is running
_thread: threading.Thread | None = None
_thread_pid: int | None = None
_groups: dict[str, frozenset[str]] = {}  # worker hostname -> the groups it consumes
# Starts with "_": flow namespaces cannot (``parse_flow_keys.NAMESPACE``), so no KV task reaches it.
PRESENCE_NAMESPACE = "_portico.worker-groups"


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


def join_groups(worker: str, keys: Iterable[str]) -> None:
    """``worker`` (a Celery hostname) consumes the queues of ``keys``: present now and at every beat."""
    keys = frozenset(keys)
    if not keys:
        return
    with _lock:
        _groups[worker] = keys
        _ensure_thread()
    _beat_presence({worker: keys})


def leave_groups(worker: str) -> None:
    """``worker`` stops (``worker_shutdown``): its groups lose it at once, not a lease later."""
    with _lock:
        joined = _groups.pop(worker, None)
    if joined:
        KeyValue.objects.filter(namespace=PRESENCE_NAMESPACE, key__endswith=f"/{worker}").delete()


def group_alive(key: str) -> bool:
    """Whether some worker of group ``key`` beat within its lease."""
    return KeyValue.objects.filter(
        namespace=PRESENCE_NAMESPACE, key__startswith=f"{key}/", expires__gt=timezone.now()
    ).exists()


def _beat_presence(groups: dict[str, frozenset[str]]) -> None:
    expires = timezone.now() + timedelta(seconds=lease())
    for worker, keys in groups.items():
        for key in keys:
            KeyValue.objects.update_or_create(
                namespace=PRESENCE_NAMESPACE, key=f"{key}/{worker}", defaults={"expires": expires}
            )


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
            held, groups = dict(_held), dict(_groups)
        if groups:
            try:
                _beat_presence(groups)
            except Exception:
                logger.warning("worker-group presence beat failed", exc_info=True)
            finally:
                connection.close()
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
