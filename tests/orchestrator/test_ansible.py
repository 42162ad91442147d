"""Kestra's AnsibleCLI: real ansible-playbook runs against a local-connection inventory, through a real
worker on the Process runner."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel import spec, storage
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import Execution, LogLine, State, TaskRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

INVENTORY = "      inventory.ini: 'localhost ansible_connection=local'\n"
PLAYBOOK = """      playbook.yml: |
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Create file
              shell: echo "Test output" >> greeting.txt
            - name: Register output file to var
              shell: cat greeting.txt
              register: myOutput
            - name: Show the token
              shell: echo "token=$API_TOKEN"
"""
FAILING = """      broken.yml: |
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Break
              fail:
                msg: boom
"""


def flow(task: str, inputs: str = "") -> str:
    return (
        f"id: ansible\nnamespace: tests\n{inputs}tasks:\n  - id: play\n"
        f"    type: io.kestra.plugin.ansible.cli.AnsibleCLI\n{task}"
    )


def run_of(execution: Execution) -> TaskRun:
    return execution.task_runs.get(task_id="play")


def logged(execution: Execution) -> list[tuple[str, str]]:
    return list(LogLine.objects.filter(execution=execution).order_by("id").values_list("level", "message"))


def test_it_runs_a_playbook_with_outputs_logs_files_and_masked_secrets(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "    inputFiles:\n" + INVENTORY + PLAYBOOK + "    env:\n      API_TOKEN: '{{ inputs.token }}'\n"
            "    outputFiles: [greeting.txt]\n    outputLogFile: true\n"
            "    beforeCommands: ['echo preparing']\n"
            "    commands:\n      - ansible-playbook -i inventory.ini playbook.yml\n"
            "      - ansible-playbook -i inventory.ini playbook.yml\n",
            "inputs:\n  - id: token\n    type: SECRET\n",
        ),
        {"token": "tok-s3cr3t-42"},
        timeout=180,
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    out = run_of(execution).outputs
    assert out["exitCode"] == 0
    # Both runs' results, merged in order (Kestra merges the commands' outputs).
    registered = [r for r in out["vars"]["outputs"] if r.get("cmd") == "cat greeting.txt"]
    assert [r["stdout"] for r in registered] == ["Test output", "Test output\nTest output"]
    assert len(out["playbooks"]) == 2 and out["vars"]["playbooks"] == out["playbooks"]
    tasks = out["playbooks"][0]["plays"][0]["tasks"]
    assert [t["name"] for t in tasks] == ["Create file", "Register output file to var", "Show the token"]
    assert tasks[1]["hosts"][0]["host"] == "localhost" and tasks[1]["hosts"][0]["status"] == "ok"
    assert set(out["outputFiles"]) == {"greeting.txt", "log"}
    stored = storage.read(execution, out["outputFiles"]["greeting.txt"]).decode()
    assert stored == "Test output\nTest output\n"
    assert "PLAY RECAP [localhost]" in storage.read(execution, out["outputFiles"]["log"]).decode()
    lines = logged(execution)
    assert ("INFO", "preparing") in lines
    assert any(m.startswith("[localhost] ok => ") and "cat greeting.txt" in m for _, m in lines)
    assert any("PLAY RECAP [localhost] ok=3 changed=3" in m for _, m in lines)
    assert not any("tok-s3cr3t-42" in m for _, m in lines)  # the secret in env is masked
    assert any("token=" + "*" * len("tok-s3cr3t-42") in m for _, m in lines)


def test_a_failing_playbook_fails_the_task_with_the_failed_task(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "    inputFiles:\n" + INVENTORY + FAILING + "    commands:\n"
            "      - ansible-playbook -i inventory.ini broken.yml\n      - echo never\n"
        ),
        timeout=180,
    )

    assert execution.state == State.FAILED
    error = run_of(execution).error
    assert "Command failed with exit code 2" in error
    assert "task 'Break' failed on localhost: boom" in error
    lines = logged(execution)
    assert any(level == "ERROR" and m.startswith("[localhost] failed => ") for level, m in lines)
    assert ("INFO", "never") not in lines


def test_it_writes_ansible_config_and_points_ansible_at_it(run_flow: Any) -> None:
    config = (
        "    ansibleConfig: |\n      [defaults]\n      callback_plugins = ./callback_plugins\n"
        "      stdout_callback = kestra_logger\n      log_path = {{ workingDir }}/custom.log\n"
    )
    execution = run_flow(
        flow(
            "    inputFiles:\n" + INVENTORY + FAILING.replace("fail:", "debug:") + config
            + "    outputFiles: [custom.log, ansible.cfg]\n"
            "    commands:\n      - ansible-playbook -i inventory.ini broken.yml\n"
            "      - echo \"config=$ANSIBLE_CONFIG\"\n"
        ),
        timeout=180,
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    out = run_of(execution).outputs
    written = storage.read(execution, out["outputFiles"]["ansible.cfg"]).decode()
    assert "log_path = /" in written and written.rstrip().endswith("/custom.log")  # rendered workingDir
    assert "boom" in storage.read(execution, out["outputFiles"]["custom.log"]).decode()
    assert any(m.startswith("config=/") and m.endswith("/ansible.cfg") for _, m in logged(execution))


def test_it_runs_a_playbook_from_namespace_files_leaving_its_jinja_to_ansible(
    run_flow: Any, settings: Any, tmp_path: Path
) -> None:
    settings.PORTICO_NAMESPACE_FILES_DIR = tmp_path
    (tmp_path / "tests" / "ansible").mkdir(parents=True)
    (tmp_path / "tests" / "ansible" / "inventory.ini").write_text("localhost ansible_connection=local\n")
    (tmp_path / "tests" / "ansible" / "site.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  vars:\n    who: world\n  tasks:\n"
        "    - name: Greet\n      debug:\n        msg: \"hello {{ who }}\"\n"
    )
    execution = run_flow(
        flow(
            "    namespaceFiles: {enabled: true, include: ['ansible/**']}\n"
            "    commands: ['ansible-playbook -i ansible/inventory.ini ansible/site.yml']\n"
        ),
        timeout=180,
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    assert run_of(execution).outputs["vars"]["outputs"][0]["msg"] == "hello world"


def test_it_stops_on_requirements_it_cannot_install_unless_told(run_flow: Any) -> None:
    files = "    inputFiles:\n" + INVENTORY + "      requirements.txt: 'requests'\n"
    stopped = run_flow(flow(files + "    commands: ['echo ran']\n"))
    assert stopped.state == State.FAILED
    assert any("autoInstallPythonRequirements: false" in m for _, m in logged(stopped))
    allowed = run_flow(flow(files + "    autoInstallPythonRequirements: false\n    commands: ['echo ran']\n"))
    assert allowed.state == State.SUCCESS, run_of(allowed).error


def test_it_fails_clearly_without_ansible_playbook(
    run_flow: Any, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    settings.PORTICO_SCRIPT_PATH = str(tmp_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    execution = run_flow(flow("    commands: ['ansible-playbook --version']\n"))
    assert execution.state == State.FAILED
    assert "ansible-playbook not found on this worker" in run_of(execution).error


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ("containerImage: cytopia/ansible:latest-tools", "Docker task runner not supported on this worker"),
        ("docker: {image: cytopia/ansible}", "Docker task runner not supported on this worker"),
        ("taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker}", "not supported on this worker"),
        ("outputsMode: EXPLICIT", "not supported yet"),
        ("autoInstallGalaxyRequirements: true", "not supported yet"),
    ],
)
def test_it_refuses_what_this_worker_cannot_do_at_load(props: str, message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(flow(f"    {props}\n    commands: ['true']\n"), file="f.yml")
    assert message in str(caught.value)
