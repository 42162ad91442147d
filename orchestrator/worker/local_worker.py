"""A real Celery worker inside this process, for ``flow run`` without a worker and for tests.

It consumes one queue, plus the queues of the worker ``groups`` it joins (``worker.groups``), and
closes its thread's Django DB connections after every task, so nothing keeps a connection (or a
PostgreSQL test database) open once it stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from orchestrator.flowmodel import worker_group
from orchestrator.worker import heartbeat


def _close_thread_connections(**_: Any) -> None:
    if threading.current_thread() is not threading.main_thread():
        connections.close_all()


def consuming_workers(app: Celery, queue: str, timeout: float = 1.0) -> list[str]:
    """Names of workers that answer a broadcast and consume ``queue``."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(
        name for name, queues in replies.items() if any(q.get("name") == queue for q in queues or ())
    )


@contextmanager
def local_worker(
    app: Celery,
    queue: str | None,
    *,
    groups: Iterable[str] = (),
    hostname: str | None = None,
    pool: str = "solo",
    concurrency: int = 1,
    shutdown_timeout: float = 60.0,
) -> Iterator[Any]:
    """Run a worker thread consuming ``queue`` (None: none) and ``groups``' queues for the ``with`` block.

    ``hostname``: its Celery node name, which a claim records (two local workers need two names).
    """
    default = app.conf.task_default_queue
    queues = [queue] if queue else []
    queues += [worker_group.queue_name(default, key) for key in sorted(set(groups))]
    extra = {"hostname": hostname} if hostname else {}
    app.conf.worker_hijack_root_logger = False
    # Idle BRPOP blocks for the polling interval (1 s by default); stopping waits for it to return.
    app.conf.broker_transport_options = {**(app.conf.broker_transport_options or {}), "polling_interval": 0.2}
    task_postrun.connect(_close_thread_connections, weak=False)
    name = ""
    try:
        with start_worker(
            app,
            pool=pool,
            concurrency=concurrency,
            queues=queues,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=shutdown_timeout,
            **extra,
        ) as worker:
            name = worker.hostname
            yield worker
    finally:
        if name:
            heartbeat.leave_groups(name)  # its groups lose it now, whether or not worker_shutdown came
        task_postrun.disconnect(_close_thread_connections)
