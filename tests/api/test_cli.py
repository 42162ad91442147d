"""The ``portico`` command as a child process against a real server (``live_server``) and a real
Celery worker: log in, list flows, request and wait, approve from another account, read the logs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portal.api import tokens

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PORTICO = Path(sys.executable).with_name("portico")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    return {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **extra}


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PORTICO), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _token(user: Any, verbs: list[str]) -> str:
    return tokens.do_create_token(user, name="cli", namespaces=["*"], verbs=verbs).plain


def test_request_approve_run_logs(live_server: Any, celery_worker: Any, alice, bob, catalog, tmp_path):
    alice_home, bob_home = tmp_path / "alice", tmp_path / "bob"
    alice_env = _env(alice_home)
    login = _run(alice_env, "login", "--url", live_server.url, "--token", _token(alice, ["read", "request"]))
    assert login.returncode == 0, login.stderr
    config = alice_home / ".config" / "portico" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["url"] == live_server.url

    flows = _run(alice_env, "--json", "flows")
    assert flows.returncode == 0, flows.stderr
    assert {f"{f['namespace']}.{f['id']}" for f in json.loads(flows.stdout)} == {
        "team-a.infra.vm",
        "team-b.db",
    }

    waiting = subprocess.Popen(
        [str(PORTICO), "--json", "request", "team-a.infra.vm", "--input", "name=web-1", "--input",
         "size=large", "--cost-center", "PLAT-001", "--wait", "--timeout", "90"],
        env=alice_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # bob, from the environment only (no config file), finds it in his queue and approves it
        bob_env = _env(bob_home, PORTICO_URL=live_server.url, PORTICO_TOKEN=_token(bob, ["read", "approve"]))
        request_id = _first_pending(bob_env)
        approved = _run(bob_env, "approve", str(request_id), "--comment", "fine")
        assert approved.returncode == 0, approved.stderr
        assert f"request #{request_id}" in approved.stdout
        out, err = waiting.communicate(timeout=120)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    finished = json.loads(out)
    assert finished["state"] == "SUCCEEDED" and finished["inputs"]["size"] == "large"

    logs = _run(alice_env, "logs", finished["execution_id"], "--follow")
    assert logs.returncode == 0, logs.stderr
    assert "Provisioning web-1 (large)" in logs.stdout and "Done with web-1" in logs.stdout
    assert logs.stdout.index("Provisioning") < logs.stdout.index("Done with")


def _first_pending(env: dict[str, str]) -> int:
    """Alice's request, once her command has submitted it: the only one in bob's queue."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = _run(env, "--json", "pending")
        assert pending.returncode == 0, pending.stderr
        if ids := [r["id"] for r in json.loads(pending.stdout)]:
            return ids[0]
        time.sleep(0.3)
    pytest.fail("alice's request never reached the approval queue")


def test_it_fails_with_one_line(live_server: Any, alice, catalog, tmp_path):
    env = _env(tmp_path, PORTICO_URL=live_server.url, PORTICO_TOKEN=_token(alice, ["read"]))
    refused = _run(env, "request", "team-a.infra.vm", "--input", "name=web-1")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "403" in refused.stderr and "request" in refused.stderr
    bad = _run(env, "request", "team-a.infra.vm", "--input", "oops")
    assert bad.returncode == 1 and "key=value" in bad.stderr
    nobody = _run(_env(tmp_path / "empty"), "flows")
    assert nobody.returncode == 1 and "portico login" in nobody.stderr
    wrong = _run(_env(tmp_path, PORTICO_URL=live_server.url, PORTICO_TOKEN="pt_00000000_nope"), "flows")
    assert wrong.returncode == 1 and "401" in wrong.stderr
