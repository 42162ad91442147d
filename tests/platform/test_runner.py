"""``make up`` as a user runs it: start ``python -m portal.runner``, use it, Ctrl-C it, find nothing left.

The runner is a supervisor of real processes (gunicorn, a Celery worker with its pool, Celery beat and,
on embedded defaults, a redis-server), so the test watches the process tree through /proc rather than
trusting the runner's own word that it stopped everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
STOP_TIMEOUT = 45.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state letter, start time) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _descendants(root: int) -> dict[tuple[int, int], str]:
    """Every live process below ``root``, keyed by (pid, start time) so a reused pid is not mistaken."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append(int(entry))
    found: dict[tuple[int, int], str] = {}
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        found[(pid, stat[2])] = _cmdline(pid)
        todo.extend(parents.get(pid, []))
    return found


def _processes_with(text: str) -> dict[tuple[int, int], str]:
    """Live processes whose command line contains ``text`` (the embedded redis-server daemonizes, so it
    is no descendant of the runner; its command line names its socket)."""
    found: dict[tuple[int, int], str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and text in (cmd := _cmdline(int(entry))) and (stat := _stat(int(entry))):
            found[(int(entry), stat[2])] = cmd
    return found


def _still_running(key: tuple[int, int]) -> bool:
    stat = _stat(key[0])
    return stat is not None and stat[2] == key[1] and stat[1] not in {"Z", "X"}


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _wait_for(condition, timeout: float, proc: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"runner exited with {proc.returncode} before {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}:\n{log.read_text()[-4000:]}")


def _external_database(base_url: str) -> tuple[str, str]:
    """A fresh PostgreSQL database beside the test one; returns (its URL, its name)."""
    import psycopg

    name = f"portico_runner_{uuid.uuid4().hex[:8]}"
    admin_url = base_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + f"/{name}", name


def _drop_database(base_url: str, name: str) -> None:
    import psycopg

    admin_url = base_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("mode", ["embedded", "external"])
def test_it_serves_the_portal_and_stops_every_process_on_sigint(
    mode: str, tmp_path: Path, redis_url: str
) -> None:
    """Embedded defaults on the SQLite run; DATABASE_URL and REDIS_URL as given on the PostgreSQL run."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if mode == "embedded" and on_postgres:
        pytest.skip("embedded defaults are covered by the SQLite run")
    if mode == "external" and not on_postgres:
        pytest.skip("needs DATABASE_URL on PostgreSQL, as in `make test-postgres`")

    port = _free_port()
    skip = {"DATABASE_URL", "REDIS_URL", "HCLOUD_TOKEN", "HCLOUD_ENDPOINT"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(
        PORTICO_DATA_DIR=str(tmp_path),
        PORTICO_PORT=str(port),
        PORTICO_HOST="127.0.0.1",
        PORTICO_DEMO_PASSWORD="runner-Test-pass-42",
        PORTICO_WEB_WORKERS="1",
        PORTICO_HCLOUD_FAKE_PORT=str(_free_port()),
        PYTHONUNBUFFERED="1",
    )
    database = None
    if mode == "external":
        env["DATABASE_URL"], database = _external_database(os.environ["DATABASE_URL"])
        env["REDIS_URL"] = redis_url

    log = tmp_path / "runner.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portal.runner"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    seen: dict[tuple[int, int], str] = {}
    try:
        login = f"http://127.0.0.1:{port}/accounts/login/"
        _wait_for(lambda: _get(login) == 200, START_TIMEOUT, proc, log, "the login page")

        def everything_started() -> bool:
            seen.update(_descendants(proc.pid))
            if mode == "embedded":
                seen.update(_processes_with(f"unixsocket:{tmp_path / 'redis.sock'}"))
            commands = " | ".join(seen.values())
            wanted = ["gunicorn", " worker ", " beat ", "hcloud_fake"]
            wanted += ["redis-server"] if mode == "embedded" else []
            return all(word in commands for word in wanted)

        _wait_for(everything_started, 60, proc, log, "all the children")
        _wait_for(lambda: b"Portico is up" in log.read_bytes(), 30, proc, log, "the banner")

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0, log.read_text()[-4000:]

        left = {key: cmd for key, cmd in seen.items() if _still_running(key)}
        assert left == {}, f"processes left behind: {left}"
        assert _get(login) is None
        if mode == "embedded":
            assert not (tmp_path / "redis.sock").exists()
        assert b"portico: stopped" in log.read_bytes()
    finally:
        # On a failure, leave nothing behind either: ask the runner to stop, then kill what is left.
        if proc.poll() is None:
            seen.update(_descendants(proc.pid))
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        seen.update(_processes_with(f"unixsocket:{tmp_path / 'redis.sock'}"))
        for pid, _start in [key for key in seen if _still_running(key)]:
            os.kill(pid, signal.SIGKILL)
        if database:
            _drop_database(os.environ["DATABASE_URL"], database)
