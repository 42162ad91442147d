"""Kestra's script tasks on the Process task runner: ``io.kestra.plugin.scripts.shell.Commands`` /
``.Script``, ``io.kestra.plugin.scripts.python.Commands`` / ``.Script`` and the PowerShell pair.

Properties and outputs follow Kestra's ``AbstractExecScript`` and ``ScriptOutput`` (``exitCode``,
``vars``, ``outputFiles``, ``stdOutLineCount``, ``stdErrLineCount``). Inputs reach a script as data: the
rendered commands run through ``interpreter`` (``/bin/sh -c``), ``env`` values are environment
variables, ``inputFiles`` are files in its working directory. What this worker cannot do is refused at
load, never run some other way: a container image or a Docker/Kubernetes task runner ("Docker task
runner not supported on this worker"), Windows and Python dependency management. ``namespaceFiles``
copies the flow namespace's files (``orchestrator.flowmodel.namespace_files``) into the directory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationInfo, field_validator

from orchestrator.flowmodel import namespace_files, storage
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.task_api import OUTPUT_DIR, RunContext, StepError, register
from orchestrator.plugins import runners
from orchestrator.plugins.core.local_files import inside, upload_matches, write_inputs
from orchestrator.plugins.core.tasks import Props
from orchestrator.plugins.scripts import process
from orchestrator.state.models import TaskRun

POSIX_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash"}
# Pebble renders booleans and null the JSON way; Kestra prepends these so a rendered value is Python.
PYTHON_PRELUDE = "true = True\nfalse = False\nnull = None\n"


class NamespaceFiles(Props):
    """Kestra's ``namespaceFiles``: the flow namespace's files copied into the working directory."""

    enabled: bool = True
    include: list[str] | None = None
    exclude: list[str] | None = None
    # Kestra's other options (more namespaces, a folder per namespace, what to do on a name clash).
    namespaces: list[str] | None = None
    folderPerNamespace: bool | None = None  # noqa: N815
    ifExists: str | None = None  # noqa: N815

    @field_validator("namespaces", "folderPerNamespace", "ifExists")
    @classmethod
    def _later(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(f"namespaceFiles.{info.field_name} is {NOT_SUPPORTED}")
        return value


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class ScriptProps(Props):
    """Kestra's ``AbstractExecScript``: what every script task shares."""

    beforeCommands: list[str] | None = None  # noqa: N815 (Kestra's property names)
    env: dict[str, str] | None = None
    warningOnStdErr: bool = True  # noqa: N815
    interpreter: list[str] = ["/bin/sh", "-c"]
    failFast: bool = True  # noqa: N815
    inputFiles: dict[str, Any] | str | None = None  # noqa: N815
    outputFiles: list[str] | None = None  # noqa: N815
    # Deprecated in Kestra: the output directory ({{ outputDir }}, OUTPUT_DIR) always exists now.
    outputDirectory: bool | None = None  # noqa: N815
    targetOS: Literal["AUTO", "LINUX", "WINDOWS"] = "AUTO"  # noqa: N815
    taskRunner: dict[str, Any] | None = None  # noqa: N815
    runner: Literal["PROCESS", "DOCKER"] | None = None
    containerImage: str | None = None  # noqa: N815
    docker: dict[str, Any] | None = None
    namespaceFiles: NamespaceFiles | None = None  # noqa: N815

    @field_validator("env", mode="before")
    @classmethod
    def _env_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _env_value(v) for k, v in value.items()}
        return value

    @field_validator("interpreter")
    @classmethod
    def _interpreter(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("interpreter must name a program")
        return value

    @field_validator("targetOS")
    @classmethod
    def _linux(cls, value: str) -> str:
        if value == "WINDOWS":
            raise ValueError(f"targetOS WINDOWS is {NOT_SUPPORTED} (this worker runs Linux)")
        return value

    @field_validator("outputDirectory")
    @classmethod
    def _output_directory(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError(f"outputDirectory: false is {NOT_SUPPORTED} (OUTPUT_DIR always exists)")
        return value

    @field_validator("containerImage", "docker")
    @classmethod
    def _no_container(cls, value: Any) -> Any:
        return runners.no_container(value)

    @field_validator("runner")
    @classmethod
    def _process_runner(cls, value: str | None) -> str | None:
        if value == "DOCKER":
            raise ValueError(runners.NO_CONTAINERS)
        return value

    @field_validator("taskRunner")
    @classmethod
    def _task_runner(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return runners.process_runner(value)

    def script_lines(self, commands: list[str]) -> str:
        """``beforeCommands`` then ``commands`` as one script; ``set -e`` first when ``failFast`` and
        the interpreter is a POSIX shell (Kestra's exit-on-error commands)."""
        lines = [*(self.beforeCommands or []), *commands]
        if self.failFast and Path(self.interpreter[0]).name in POSIX_SHELLS:
            lines = ["set -e", *lines]
        return "\n".join(lines)


class CommandsProps(ScriptProps):
    commands: list[str]


class InlineScriptProps(ScriptProps):
    script: str


class PythonProps(ScriptProps):
    """Python's own options that manage packages: refused until Portico can install them safely."""

    dependencies: list[str] | None = None
    pythonVersion: str | None = None  # noqa: N815
    packageManager: str | None = None  # noqa: N815
    dependencyCacheEnabled: bool | None = None  # noqa: N815
    uvAutoInstallEnabled: bool | None = None  # noqa: N815

    @field_validator(
        "dependencies", "pythonVersion", "packageManager", "dependencyCacheEnabled", "uvAutoInstallEnabled"
    )
    @classmethod
    def _no_packages(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(f"{info.field_name} is {NOT_SUPPORTED}")  # install packages on the worker
        return value


class PythonCommandsProps(PythonProps):
    commands: list[str]


class PythonScriptProps(PythonProps):
    script: str


def _input_map(value: dict[str, Any] | str | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise StepError("inputFiles must be a map of file name to content, or its JSON") from None
    if not isinstance(value, dict):
        raise StepError("inputFiles must be a map of file name to content")
    return value


def _copy_namespace_files(wanted: NamespaceFiles, namespace: str, workdir: Path) -> None:
    for relative in namespace_files.matching(namespace, wanted.include, wanted.exclude):
        target = inside(workdir, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(namespace_files.path(namespace, relative), target)


def execute(
    props: ScriptProps, ctx: RunContext, script: str, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``interpreter + [script]`` in the task's working directory and build Kestra's outputs."""
    taskrun = TaskRun.objects.select_related("execution").get(pk=ctx.taskrun_id)
    with ExitStack() as stack:
        given = getattr(ctx, "working_dir", None)  # this attempt's (the worker's) or a WorkingDirectory's
        if given:
            workdir = Path(given)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-script-")))
        output_dir = workdir / OUTPUT_DIR
        output_dir.mkdir(exist_ok=True)
        # Its files are this task's: uploaded below, then gone before a WorkingDirectory sibling runs.
        stack.callback(shutil.rmtree, output_dir, ignore_errors=True)
        if props.namespaceFiles is not None and props.namespaceFiles.enabled:
            _copy_namespace_files(props.namespaceFiles, taskrun.execution.namespace, workdir)
        write_inputs(workdir, _input_map(props.inputFiles), taskrun.execution)
        environment = process.environment(workdir, output_dir, {**(env or {}), **(props.env or {})})
        finished = process.run([*props.interpreter, script], cwd=workdir, env=environment, ctx=ctx)
        prefix = storage.taskrun_prefix(taskrun)
        files = upload_matches(workdir, props.outputFiles or [], prefix) if props.outputFiles else {}
        files.update(upload_matches(output_dir, ["**/*"], prefix))
    if finished.exit_code != 0:
        raise StepError(f"Command failed with exit code {finished.exit_code}", permanent=False)
    if props.warningOnStdErr and finished.stderr_lines:
        ctx.warn(f"{finished.stderr_lines} line(s) on stderr (warningOnStdErr)")
    outputs: dict[str, Any] = {
        "exitCode": finished.exit_code,
        "vars": finished.vars,
        "stdOutLineCount": finished.stdout_lines,
        "stdErrLineCount": finished.stderr_lines,
    }
    if files:
        outputs["outputFiles"] = files
    return outputs


_SHELL = "io.kestra.plugin.scripts.shell."
_PYTHON = "io.kestra.plugin.scripts.python."
_PWSH = "io.kestra.plugin.scripts.powershell."


@register(_SHELL + "Commands", props=CommandsProps, working_dir=True)
def run_shell_commands(props: CommandsProps, ctx: RunContext) -> dict[str, Any]:
    return execute(props, ctx, props.script_lines(props.commands))


@register(_SHELL + "Script", props=InlineScriptProps, working_dir=True)
def run_shell_script(props: InlineScriptProps, ctx: RunContext) -> dict[str, Any]:
    return execute(props, ctx, props.script_lines([props.script]))


_PYTHON_ENV = {"PYTHONUNBUFFERED": "true", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@register(_PYTHON + "Commands", props=PythonCommandsProps, working_dir=True)
def run_python_commands(props: PythonCommandsProps, ctx: RunContext) -> dict[str, Any]:
    return execute(props, ctx, props.script_lines(props.commands), env=_PYTHON_ENV)


@register(_PYTHON + "Script", props=PythonScriptProps, working_dir=True)
def run_python_script(props: PythonScriptProps, ctx: RunContext) -> dict[str, Any]:
    """The script goes to a ``.py`` file in the working directory (with Kestra's true/false/null
    prelude) and runs as ``python3 <file>`` after ``beforeCommands``."""
    name = f"script-{uuid.uuid4().hex[:8]}.py"
    files = {**_input_map(props.inputFiles), name: PYTHON_PRELUDE + props.script}
    props = props.model_copy(update={"inputFiles": files})
    return execute(props, ctx, props.script_lines([f"python3 {name}"]), env=_PYTHON_ENV)


def _with_pwsh(props: ScriptProps) -> ScriptProps:
    """PowerShell's default interpreter, when the flow kept the shell's; a clear failure without pwsh."""
    found = shutil.which("pwsh", path=process.search_path())
    if found is None:
        raise StepError("pwsh not found on this worker (install PowerShell to run PowerShell tasks)")
    if props.interpreter != ScriptProps.model_fields["interpreter"].default:
        return props
    return props.model_copy(update={"interpreter": [found, "-NoProfile", "-NonInteractive", "-Command"]})


@register(_PWSH + "Commands", props=CommandsProps, working_dir=True)
def run_pwsh_commands(props: CommandsProps, ctx: RunContext) -> dict[str, Any]:
    return execute(_with_pwsh(props), ctx, props.script_lines(props.commands))


@register(_PWSH + "Script", props=InlineScriptProps, working_dir=True)
def run_pwsh_script(props: InlineScriptProps, ctx: RunContext) -> dict[str, Any]:
    return execute(_with_pwsh(props), ctx, props.script_lines([props.script]))
