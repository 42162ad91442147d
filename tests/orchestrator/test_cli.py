"""``manage.py flow validate|run`` as a user runs it: a real subprocess with its own worker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from orchestrator.state.models import Execution, LogLine
from tests.conftest import database_url

ROOT = Path(settings.BASE_DIR)
HELLO = """\
id: hello-cli
namespace: tests.cli
inputs:
  - id: who
    type: STRING
    defaults: Kestra
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "Hallo von {{ inputs.who }}"
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.first.value }} x{{ inputs.times }}"
"""
FAILING = """\
id: failing-cli
namespace: tests.cli
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: nope
"""
BAD = """\
id: bad-cli
namespace: tests.cli
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    mesage: typo
"""


def manage(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """Own data dir and queue (so this session's test worker never takes its messages)."""
    return {
        "PORTICO_DATA_DIR": str(tmp_path / "data"),
        "PORTICO_QUEUE": f"cli-{uuid.uuid4().hex[:10]}",
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url(),
    }


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_it_reports_valid_flows(tmp_path: Path, cli_env: dict[str, str]) -> None:
    paths = [write(tmp_path, "a.yml", HELLO), write(tmp_path, "b.yaml", FAILING)]

    result = manage("flow", "validate", *paths, env=cli_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 flow(s) valid"


def test_it_prints_warnings_but_passes_a_flow_kestra_would_load(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    broken_template = HELLO.replace("{{ inputs.", "{{ (inputs.", 1)
    path = write(tmp_path, "warn.yml", broken_template)

    result = manage("flow", "validate", path, env=cli_env)

    assert result.returncode == 0, result.stderr
    first, last = result.stdout.strip().splitlines()
    assert first.startswith(f"{path}:") and "template syntax error" in first and first.endswith("[warning]")
    assert last == "1 flow(s) valid"


def test_it_reports_each_problem_with_file_line_and_field(tmp_path: Path, cli_env: dict[str, str]) -> None:
    good = write(tmp_path, "good.yml", HELLO)
    bad = write(tmp_path, "bad.yml", BAD)

    result = manage("flow", "validate", good, bad, env=cli_env)

    assert result.returncode == 1, result.stderr
    assert result.stdout.strip().splitlines() == [
        f"{bad}:4: tasks[0].message: required property missing",
        f"{bad}:6: tasks[0].mesage: unknown property",
    ]
    assert "2 problem(s) in 1 of 2 flow(s)" in result.stderr


def test_it_validates_a_directory(tmp_path: Path, cli_env: dict[str, str]) -> None:
    write(tmp_path, "one.yml", HELLO)
    write(tmp_path, "two.yml", FAILING)
    write(tmp_path, "notes.txt", "not a flow")

    result = manage("flow", "validate", str(tmp_path), env=cli_env)

    assert (result.returncode, result.stdout.strip()) == (0, "2 flow(s) valid"), result.stderr


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_flow_and_prints_json(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write(tmp_path, "hello.yml", HELLO)

    started = time.monotonic()
    result = manage("flow", "run", path, "--input", "times=2", "--json", env=cli_env)
    took = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["state"] == "SUCCESS"
    assert data["outputs"] == {}
    assert data["taskRuns"] == [
        {"taskId": "first", "state": "SUCCESS", "attempts": 1, "outputs": {"value": "Hallo von Kestra"}},
        {"taskId": "say", "state": "SUCCESS", "attempts": 1, "outputs": {}},
    ]
    execution = Execution.objects.get(pk=data["id"])
    assert execution.trigger == {"type": "cli"}
    assert list(LogLine.objects.filter(execution=execution).values_list("message", flat=True)) == [
        "Hallo von Kestra x2"
    ]
    assert took < 30, "the command must exit promptly (worker stopped, no hanging threads)"


@pytest.mark.django_db(transaction=True)
def test_it_prints_a_readable_summary(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = manage("flow", "run", write(tmp_path, "hello.yml", HELLO), "-i", "who=Ada", env=cli_env)

    assert result.returncode == 0, result.stderr
    assert re.search(r"tests\.cli\.hello-cli [0-9a-f-]{36}: SUCCESS", result.stdout)
    assert re.search(r"INFO\s+say: Hallo von Ada x1", result.stdout)


@pytest.mark.django_db(transaction=True)
def test_it_exits_1_when_the_execution_fails(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = manage("flow", "run", write(tmp_path, "failing.yml", FAILING), "--json", env=cli_env)

    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["state"] == "FAILED"
    assert [(r["taskId"], r["state"]) for r in data["taskRuns"]] == [("boom", "FAILED")]


@pytest.mark.django_db(transaction=True)
def test_it_rejects_bad_input_values_clearly(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write(tmp_path, "hello.yml", HELLO)

    bad_value = manage("flow", "run", path, "--input", "times=lots", env=cli_env)
    unknown = manage("flow", "run", path, "--input", "colour=red", env=cli_env)
    malformed = manage("flow", "run", path, "--input", "times", env=cli_env)

    assert bad_value.returncode == 1
    assert bad_value.stderr.startswith("input 'times': ")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "flow tests.cli.hello-cli has no input(s): colour"
    assert malformed.returncode == 2
    assert "KEY=VALUE" in malformed.stderr
    assert not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_starts_and_stops_the_embedded_redis(tmp_path: Path, cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in cli_env.items() if k != "REDIS_URL"}
    env["REDIS_URL"] = ""  # settings treat an empty REDIS_URL as unset
    socket_path = Path(env["PORTICO_DATA_DIR"]) / "redis.sock"

    result = manage("flow", "run", write(tmp_path, "hello.yml", HELLO), "--json", env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "SUCCESS"
    probe = redis.Redis(unix_socket_path=str(socket_path), retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.ConnectionError):
        probe.ping()
    probe.close()


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_bundled_hello_kestra_flow(cli_env: dict[str, str]) -> None:
    result = manage("flow", "run", "flows/hello-kestra.yml", "--json", env=cli_env)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["state"] == "SUCCESS"
    assert [run["state"] for run in data["taskRuns"]] == ["SUCCESS"]
    assert LogLine.objects.get(execution_id=data["id"]).message == "Hallo von Kestra"


def test_it_runs_on_a_fresh_data_dir_by_migrating_the_embedded_database(tmp_path: Path) -> None:
    """A fresh clone, no `make up`: no DATABASE_URL, no REDIS_URL, an empty data directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORTICO_DATA_DIR=str(tmp_path / "fresh"), PORTICO_QUEUE=f"cli-{uuid.uuid4().hex[:10]}")

    result = subprocess.run(
        [sys.executable, "manage.py", "flow", "run", "flows/hello-kestra.yml", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "SUCCESS"
    assert (tmp_path / "fresh" / "portico.sqlite3").is_file()


def test_it_names_the_command_when_an_external_database_is_not_migrated(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    result = manage("flow", "run", "flows/hello-kestra.yml", env={**cli_env, "DATABASE_URL": f"sqlite:///{empty}"})

    assert result.returncode == 2
    assert "run `python manage.py migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


SECRET_OUTPUT = """\
id: secret-out
namespace: tests.secrets
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.pw }}"
outputs:
  - id: said
    type: STRING
    value: "{{ outputs.echo.value }}"
"""


@pytest.mark.django_db(transaction=True)
def test_flow_run_prints_a_secret_output_masked_never_sealed_nor_plain(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    for fmt in (["--json"], []):
        args = ("flow", "run", write(tmp_path, "secret.yml", SECRET_OUTPUT), "--input", "pw=hunter2secret")
        result = manage(*args, *fmt, env=cli_env)
        assert result.returncode == 0, result.stderr
        assert "hunter2secret" not in result.stdout and "$secret" not in result.stdout
        assert "******" in result.stdout
    report = json.loads(manage(*args, "--json", env=cli_env).stdout)
    assert report["outputs"] == {"said": "******"}
    assert report["taskRuns"][0]["outputs"] == {"value": "******"}
