"""``io.kestra.plugin.ansible.cli.AnsibleCLI``: ansible / ansible-playbook commands as a script task.

It runs on the scripts family's Process runner (``orchestrator.plugins.scripts``: a working directory
per attempt, a clean environment, resource limits, the ``::{"outputs": ...}::`` protocol), with
Kestra's additions:

* ``ansibleConfig`` (default: Kestra's, with Portico's callback as the stdout callback) is written to
  ``ansible.cfg`` in the working directory and ``ANSIBLE_CONFIG`` points at it; an ``ansible.cfg`` in
  ``inputFiles`` wins, with a warning, as in Kestra.
* The ``kestra_logger`` callback (``callback_plugins/``) logs one line per host result and collects
  Kestra's structured outputs: ``vars.outputs`` (every host result, all commands' merged) and
  ``vars.playbooks`` / ``playbooks`` (one entry per ansible-playbook run: plays, tasks, hosts).
* ``ansible-playbook`` must be installed on the worker (``pip install 'portico[ansible]'``); where it is
  missing the task fails saying so. The directory holding it joins the script's ``PATH``.

Containers (``containerImage``, ``docker``, a Docker ``taskRunner``) are refused at load, as for the
script tasks. Kestra's requirement auto-install (pip / ansible-galaxy at run time) is not done here: a
working directory with ``requirements.txt`` / ``requirements.yml`` fails clearly unless the flow turns
the auto-install off.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins import runners
from orchestrator.plugins.core.tasks import Props
from orchestrator.plugins.scripts import process
from orchestrator.plugins.scripts.tasks import NamespaceFiles, ScriptProps, execute

CALLBACK = Path(__file__).with_name("callback_plugins") / "kestra_logger.py"
ANSIBLE_CFG = "ansible.cfg"
# Kestra's default configuration, except the stdout callback: ansible-core has no ``null`` one, so
# Portico's callback is the stdout callback (it prints only the task's log lines).
DEFAULT_CONFIG = """[defaults]
log_path          = {working_dir}/log
callback_plugins  = ./callback_plugins
stdout_callback   = kestra_logger
result_format     = json
pretty_results    = true
library           = ./library
"""
_RESULTS_BYTES = 4 * 1024 * 1024  # the structured results kept in the task's outputs (a DB row)
_REQUIREMENTS = {
    "requirements.txt": "autoInstallPythonRequirements",
    "requirements.yml": "autoInstallGalaxyRequirements",
}


class AnsibleProps(Props):
    """Kestra's AnsibleCLI properties."""

    commands: list[str]
    beforeCommands: list[str] | None = None  # noqa: N815 (Kestra's property names)
    env: dict[str, str] | None = None
    inputFiles: dict[str, Any] | str | None = None  # noqa: N815
    outputFiles: list[str] | None = None  # noqa: N815
    namespaceFiles: NamespaceFiles | None = None  # noqa: N815
    ansibleConfig: str | None = None  # noqa: N815
    outputLogFile: bool = False  # noqa: N815
    outputsMode: Literal["ALL", "EXPLICIT"] = "ALL"  # noqa: N815
    autoInstallPythonRequirements: bool | None = None  # noqa: N815
    autoInstallGalaxyRequirements: bool | None = None  # noqa: N815
    taskRunner: dict[str, Any] | None = None  # noqa: N815
    containerImage: str | None = None  # noqa: N815
    docker: dict[str, Any] | None = None

    @field_validator("env", mode="before")
    @classmethod
    def _env_text(cls, value: Any) -> Any:
        if isinstance(value, dict):  # a number or a map reaches the environment as text (JSON)
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        return value

    @field_validator("containerImage", "docker")
    @classmethod
    def _no_container(cls, value: Any) -> Any:
        return runners.no_container(value)

    @field_validator("taskRunner")
    @classmethod
    def _task_runner(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return runners.process_runner(value)

    @field_validator("outputsMode")
    @classmethod
    def _all_only(cls, value: str) -> str:
        if value != "ALL":
            raise ValueError(f"outputsMode {value} is {NOT_SUPPORTED}")
        return value

    @field_validator("autoInstallPythonRequirements", "autoInstallGalaxyRequirements")
    @classmethod
    def _no_install(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError(f"installing requirements at run time is {NOT_SUPPORTED}")
        return value


def _ansible_bin() -> Path:
    """The directory of ``ansible-playbook``: on the scripts' ``PATH``, else beside this Python (the
    ``ansible`` extra installed into Portico's environment)."""
    found = shutil.which("ansible-playbook", path=process.search_path())
    if found is None:
        found = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    if found is None:
        raise StepError(
            "ansible-playbook not found on this worker (install it: pip install 'portico[ansible]')",
            permanent=True,
        )
    return Path(found).parent


def _input_files(props: AnsibleProps, ctx: RunContext, workdir: Path) -> dict[str, Any]:
    given = props.inputFiles
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError:
            raise StepError("inputFiles must be a map of file name to content, or its JSON") from None
    files = dict(given or {})
    if ANSIBLE_CFG in files:
        ctx.log("WARN", "Found an existing ansible.cfg file in inputFiles: ansibleConfig is not written")
    else:
        files[ANSIBLE_CFG] = props.ansibleConfig or DEFAULT_CONFIG.format(working_dir=workdir)
    files["callback_plugins/kestra_logger.py"] = CALLBACK.read_text(encoding="utf-8")
    return files


def _requirement_guards(props: AnsibleProps) -> list[str]:
    """Kestra installs ``requirements.txt`` / ``.yml`` found in the working directory by default (from
    inputFiles, namespace files...); this worker does not, so the script stops saying so instead of
    running without them, unless the flow turned the auto-install off."""
    guards = []
    for name, switch in _REQUIREMENTS.items():
        if getattr(props, switch) is None:
            message = f"{name}: installing requirements at run time is not supported; set {switch}: false"
            guards.append(f"[ ! -f {name} ] || {{ echo '{message}' >&2; exit 1; }}")
    return guards


def _failure(results: list[Any]) -> str:
    """The first failed task of the playbooks, in words, for the task's error."""
    for playbook in results:
        for play in playbook.get("plays") or []:
            for task in play.get("tasks") or []:
                for host in task.get("hosts") or []:
                    if host.get("status") in ("failed", "unreachable"):
                        message = (host.get("result") or {}).get("msg") or host["status"]
                        return f"task '{task.get('name')}' {host['status']} on {host.get('host')}: {message}"
    return ""


def _structured(results: Path, ctx: RunContext) -> tuple[list[Any], list[Any]]:
    """Every run's host results and playbooks, merged in order (Kestra merges the commands' outputs)."""
    if not results.exists():
        return [], []
    if results.stat().st_size > _RESULTS_BYTES:
        ctx.log("WARN", f"the playbook results exceed {_RESULTS_BYTES} bytes: not kept in the outputs")
        return [], []
    outputs: list[Any] = []
    playbooks: list[Any] = []
    for line in results.read_text(encoding="utf-8").splitlines():
        try:
            run = json.loads(line)
        except ValueError:
            continue
        outputs.extend(run.get("outputs") or [])
        playbooks.extend(run.get("playbooks") or [])
    return outputs, playbooks


@register("io.kestra.plugin.ansible.cli.AnsibleCLI", props=AnsibleProps, working_dir=True)
def run_ansible_cli(props: AnsibleProps, ctx: RunContext) -> dict[str, Any]:
    """Outputs ``exitCode``, ``vars`` (with ``outputs`` and ``playbooks``), ``playbooks``,
    ``outputFiles``, ``stdOutLineCount`` and ``stdErrLineCount``, as Kestra's AnsibleOutput."""
    given = getattr(ctx, "working_dir", None)
    if not given:
        raise StepError("AnsibleCLI needs the working directory the worker gives each attempt")
    workdir = Path(given)
    bin_dir = _ansible_bin()
    files = _input_files(props, ctx, workdir)
    output_files = [*(props.outputFiles or []), *(["log"] if props.outputLogFile else [])]
    with tempfile.TemporaryDirectory(prefix="portico-ansible-") as scratch:
        results = Path(scratch) / "results.jsonl"
        env = {
            "PATH": f"{bin_dir}:{process.search_path()}",
            "ANSIBLE_CONFIG": str(workdir / ANSIBLE_CFG),
            "ANSIBLE_LOCAL_TEMP": str(workdir / ".ansible" / "tmp"),
            "PORTICO_ANSIBLE_RESULTS": str(results),
        }
        script = ScriptProps(
            beforeCommands=[*(props.beforeCommands or []), *_requirement_guards(props)],
            env=props.env,
            interpreter=["/bin/bash", "-c"],
            warningOnStdErr=False,  # Kestra's AnsibleCLI never warns on stderr
            inputFiles=files,
            outputFiles=output_files or None,
            namespaceFiles=props.namespaceFiles,
        )
        try:
            outputs = execute(script, ctx, script.script_lines(props.commands), env=env)
        except StepError as exc:
            failed = _failure(_structured(results, ctx)[1])
            raise StepError(f"{exc}: {failed}" if failed else str(exc), permanent=exc.permanent) from None
        host_results, playbooks = _structured(results, ctx)
    outputs["vars"] = {**outputs["vars"], "outputs": host_results, "playbooks": playbooks}
    outputs["playbooks"] = playbooks
    return outputs
