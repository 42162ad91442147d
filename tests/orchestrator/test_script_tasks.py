"""Kestra's script tasks on the Process runner: real child processes through a real worker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.executor import control, walker
from orchestrator.flowmodel import input_types, spec, storage
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def flow(task: str, inputs: str = "") -> str:
    return f"id: scripts\nnamespace: tests\n{inputs}tasks:\n  - id: run\n{task}"


def run_of(execution: Execution) -> TaskRun:
    return execution.task_runs.get(task_id="run")


def logged(execution: Execution) -> list[tuple[str, str]]:
    return list(LogLine.objects.filter(execution=execution).order_by("id").values_list("level", "message"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie is gone too


def test_it_runs_shell_commands_streams_lines_and_reads_the_output_protocol(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "    type: io.kestra.plugin.scripts.shell.Commands\n"
            "    beforeCommands: ['GREETING=\"hello $WHO\"']\n"
            "    env: {WHO: '{{ inputs.who }}'}\n"
            "    commands:\n"
            "      - echo \"$GREETING\"\n"
            "      - 'echo ''::{\"outputs\": {\"count\": 3, \"who\": \"''$WHO''\"}}::'''\n",
            "inputs:\n  - id: who\n    type: STRING\n",
        ),
        {"who": "Ada; rm -rf /"},
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    out = run_of(execution).outputs
    assert out["exitCode"] == 0
    assert out["vars"] == {"count": 3, "who": "Ada; rm -rf /"}  # input reached the shell as data
    assert (out["stdOutLineCount"], out["stdErrLineCount"]) == (1, 0)
    assert ("INFO", "hello Ada; rm -rf /") in logged(execution)


def test_it_keeps_the_workers_environment_away_from_the_script(run_flow: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PORTICO_TEST_TOKEN", "worker-only-secret")
    execution = run_flow(
        flow("    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [env]\n    env: {MINE: yes}\n")
    )

    lines = [message for _, message in logged(execution)]
    assert execution.state == State.SUCCESS
    assert "MINE=yes" in lines
    assert not any("worker-only-secret" in line or "DATABASE_URL" in line for line in lines)
    assert any(line.startswith("WORKING_DIR=") for line in lines)


def test_it_fails_fast_and_reports_the_exit_code(run_flow: Any) -> None:
    fast = run_flow(
        flow("    type: io.kestra.plugin.scripts.shell.Commands\n    commands: ['exit 3', 'echo after']\n")
    )
    slow = run_flow(
        flow(
            "    type: io.kestra.plugin.scripts.shell.Commands\n    failFast: false\n"
            "    commands: ['false', 'echo after']\n"
        )
    )

    assert fast.state == State.FAILED
    assert run_of(fast).error == "Command failed with exit code 3"
    assert ("INFO", "after") not in logged(fast)
    assert slow.state == State.SUCCESS and ("INFO", "after") in logged(slow)


def test_stderr_makes_a_warning_unless_told_otherwise(run_flow: Any) -> None:
    task = "    type: io.kestra.plugin.scripts.shell.Commands\n    commands: ['echo oops >&2']\n"
    warned = run_flow(flow(task))
    quiet = run_flow(flow(task + "    warningOnStdErr: false\n"))
    allowed = run_flow(flow(task + "    allowWarning: true\n"))

    assert warned.state == State.WARNING
    assert ("WARN", "oops") in logged(warned)
    assert run_of(warned).outputs["stdErrLineCount"] == 1
    assert quiet.state == allowed.state == State.SUCCESS


def test_it_passes_input_files_and_uploads_output_files_and_the_output_dir(run_flow: Any) -> None:
    execution = run_flow(
        "id: scripts\nnamespace: tests\ntasks:\n"
        "  - id: seed\n    type: io.kestra.plugin.core.storage.Write\n    content: from storage\n"
        "  - id: run\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    inputFiles:\n      data/in.txt: inline content\n      copy.txt: '{{ outputs.seed.uri }}'\n"
        "    outputFiles: ['*.csv']\n"
        "    commands:\n"
        "      - cat data/in.txt copy.txt > result.csv\n"
        "      - echo kept > '{{ outputDir }}/report.txt'\n"
        "      - test \"$(pwd)\" = '{{ workingDir }}' && test \"$OUTPUT_DIR\" = '{{ outputDir }}'\n"
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    files = run_of(execution).outputs["outputFiles"]
    assert set(files) == {"result.csv", "report.txt"}
    assert storage.read(execution, files["result.csv"]) == b"inline contentfrom storage"
    assert storage.read(execution, files["report.txt"]) == b"kept\n"


def test_it_runs_a_python_script_with_kestras_prelude(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "    type: io.kestra.plugin.scripts.python.Script\n"
            "    script: |\n"
            "      import json, os\n"
            "      flag = {{ inputs.flag }}\n"
            "      out = {'flag': flag, 'unbuffered': os.environ['PYTHONUNBUFFERED']}\n"
            "      print('::' + json.dumps({'outputs': out}) + '::')\n",
            "inputs:\n  - id: flag\n    type: BOOLEAN\n",
        ),
        {"flag": "true"},
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    assert run_of(execution).outputs["vars"] == {"flag": True, "unbuffered": "true"}


def test_a_timeout_kills_the_script_and_every_child_it_started(run_flow: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    execution = run_flow(
        flow(
            "    type: io.kestra.plugin.scripts.shell.Commands\n    timeout: PT1S\n"
            f"    commands: ['sleep 60 & echo $! > {pids}', 'echo $$ >> {pids}', 'sleep 60']\n"
        ),
        timeout=30,
    )

    assert execution.state == State.FAILED
    assert "Timeout after PT1S" in run_of(execution).error
    deadline = time.monotonic() + 10
    while any(alive(int(pid)) for pid in pids.read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(int(pid)) for pid in pids.read_text().split())


def test_a_kill_stops_the_script(celery_worker: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    parsed = spec.parse_flow(
        flow(
            "    type: io.kestra.plugin.scripts.shell.Commands\n"
            f"    commands: ['echo $$ > {pids}', 'sleep 60']\n"
        )
    )
    execution = walker.start_execution(parsed, input_types.resolve_inputs(parsed, {}))
    deadline = time.monotonic() + 20
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)

    control.kill(execution.pk)
    execution = wait_for(execution, 30)

    assert execution.state == State.KILLED
    pid = int(pids.read_text())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_output_past_the_limit_stops_the_script(run_flow: Any, settings: Any) -> None:
    settings.PORTICO_SCRIPT_OUTPUT_BYTES = 10_000
    execution = run_flow(
        flow(
            "    type: io.kestra.plugin.scripts.shell.Commands\n"
            "    commands: ['yes portico | head -c 1000000']\n"
        )
    )

    assert execution.state == State.FAILED
    assert "more than the 10000 bytes of output allowed" in run_of(execution).error


def test_the_resource_limits_apply(run_flow: Any, settings: Any) -> None:
    settings.PORTICO_SCRIPT_OPEN_FILES = 64
    execution = run_flow(
        flow("    type: io.kestra.plugin.scripts.shell.Commands\n    commands: ['ulimit -n']\n")
    )

    assert ("INFO", "64") in logged(execution)


def test_powershell_fails_clearly_without_pwsh(run_flow: Any, settings: Any) -> None:
    settings.PORTICO_SCRIPT_PATH = "/nonexistent"
    execution = run_flow(
        flow("    type: io.kestra.plugin.scripts.powershell.Commands\n    commands: ['Get-Date']\n")
    )

    assert execution.state == State.FAILED
    assert "pwsh not found on this worker" in run_of(execution).error


@pytest.mark.parametrize(
    "props, message",
    [
        ("    containerImage: ubuntu:22.04\n", "Docker task runner not supported on this worker"),
        (
            "    taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker}\n",
            "not supported on this worker",
        ),
        ("    runner: DOCKER\n", "Docker task runner not supported on this worker"),
        ("    docker: {image: ubuntu}\n", "Docker task runner not supported on this worker"),
        ("    namespaceFiles: {namespaces: [other]}\n", "namespaceFiles.namespaces is not supported yet"),
        ("    targetOS: WINDOWS\n", "not supported yet"),
        ("    outputDirectory: false\n", "not supported yet"),
        ("    colour: red\n", "unknown property"),
    ],
)
def test_it_refuses_what_this_worker_cannot_do_at_load(props: str, message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(
            flow("    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [date]\n" + props)
        )

    assert message in str(caught.value)


def test_it_refuses_python_package_management_at_load() -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(
            flow(
                "    type: io.kestra.plugin.scripts.python.Script\n    script: print(1)\n"
                "    dependencies: [requests]\n"
            )
        )

    assert "dependencies is not supported yet" in str(caught.value)


def test_it_mounts_namespace_files_and_reads_them_in_templates(
    run_flow: Any, settings: Any, tmp_path: Path
) -> None:
    settings.PORTICO_NAMESPACE_FILES_DIR = tmp_path
    files = tmp_path / "tests"
    (files / "scripts").mkdir(parents=True)
    (files / "scripts" / "hello.sh").write_text("echo hello from git\n")
    (files / "scripts" / "skip.txt").write_text("not wanted\n")
    (files / "motd.txt").write_text("welcome")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "secret.txt").write_text("another team's")

    execution = run_flow(
        "id: scripts\nnamespace: tests\ntasks:\n"
        "  - id: run\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    namespaceFiles: {enabled: true, include: ['scripts/**'], exclude: ['*.txt']}\n"
        "    commands: ['sh scripts/hello.sh', 'ls scripts']\n"
        "  - id: motd\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read('motd.txt') }}\"\n"
        "  - id: escape\n    type: io.kestra.plugin.core.debug.Return\n"
        "    format: \"{{ read('../other/secret.txt') }}\"\n"
    )

    assert ("INFO", "hello from git") in logged(execution)
    assert ("INFO", "skip.txt") not in logged(execution)
    assert execution.task_runs.get(task_id="motd").outputs == {"value": "welcome"}
    escape = execution.task_runs.get(task_id="escape")
    assert escape.state == State.FAILED and "outside the files of namespace 'tests'" in escape.error


def test_it_takes_kestras_runner_and_interpreter_settings(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "    type: io.kestra.plugin.scripts.shell.Script\n"
            "    interpreter: [/bin/bash, -c]\n    targetOS: LINUX\n    runner: PROCESS\n"
            "    taskRunner: {type: io.kestra.plugin.core.runner.Process}\n    outputDirectory: true\n"
            "    script: 'echo \"$BASH_VERSION\" | cut -c1 > \"$OUTPUT_DIR/bash.txt\"'\n"
        )
    )

    assert execution.state == State.SUCCESS, run_of(execution).error
    assert storage.read(execution, run_of(execution).outputs["outputFiles"]["bash.txt"]).strip().isdigit()
