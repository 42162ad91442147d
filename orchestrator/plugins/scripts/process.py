"""Kestra's ``io.kestra.plugin.core.runner.Process`` task runner: a script as a child process.

What this module guarantees, whatever the script does:

* **A clean environment.** The child gets ``PATH`` (``settings.PORTICO_SCRIPT_PATH``), ``HOME`` and
  ``TMPDIR`` inside its working directory, ``LANG``, ``WORKING_DIR``, ``OUTPUT_DIR`` and the task's own
  ``env``. Nothing else of the worker's environment (database URLs, API tokens) reaches it.
* **Its own process group**, killed as a whole (SIGTERM, then SIGKILL after a grace period) when the task
  is killed, times out, its output passes the limit, or it ends: no grandchild outlives the task.
* **Resource limits** (``setrlimit``, set by ``launcher.py`` before ``exec``): CPU seconds, address
  space, open files, file size, from ``settings.PORTICO_SCRIPT_*``.
* **Bounded output.** stdout and stderr are read line by line (each line cut at 64 KiB) and sent to the
  task log as they come (stdout at INFO, stderr at WARN, masked like every log line); once
  ``PORTICO_SCRIPT_OUTPUT_BYTES`` have been read the script is stopped and the task fails.
* **Kestra's output protocol**: a line ``::{"outputs": {...}}::`` adds to the task's ``vars``,
  ``::{"logs": [{"level": ..., "message": ...}]}::`` logs, ``::{"metrics": [...]}::`` is logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from orchestrator.flowmodel.task_api import RunContext, StepError

LAUNCHER = Path(__file__).with_name("launcher.py")
_PROTOCOL = re.compile(r"^::(\{.*\})::\s*$")
_LINE_BYTES = 64 * 1024
_TICK_SECONDS = 0.25
_CHECK_SECONDS = 0.001  # a sleep this short only asks whether the run was killed or timed out
_AFTER_EXIT_SECONDS = 1.0
_STOP_GRACE_SECONDS = 3.0


@dataclass
class Finished:
    exit_code: int
    vars: dict[str, Any] = field(default_factory=dict)
    stdout_lines: int = 0
    stderr_lines: int = 0


def limits() -> dict[str, int]:
    return {
        "cpu_seconds": settings.PORTICO_SCRIPT_CPU_SECONDS,
        "memory_bytes": settings.PORTICO_SCRIPT_MEMORY_BYTES,
        "open_files": settings.PORTICO_SCRIPT_OPEN_FILES,
        "file_bytes": settings.PORTICO_SCRIPT_FILE_BYTES,
    }


def search_path() -> str:
    """The ``PATH`` scripts get (``settings.PORTICO_SCRIPT_PATH``), never the worker's own."""
    return str(settings.PORTICO_SCRIPT_PATH)


def environment(workdir: Path, output_dir: Path, extra: dict[str, str] | None) -> dict[str, str]:
    """The child's whole environment: the base described above, then the task's ``env``."""
    tmp = workdir / ".tmp"
    tmp.mkdir(exist_ok=True)
    base = {
        "PATH": search_path(),
        "HOME": str(workdir),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "WORKING_DIR": str(workdir),
        "OUTPUT_DIR": str(output_dir),
    }
    return {**base, **{str(k): str(v) for k, v in (extra or {}).items()}}


def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    ctx: RunContext,
    on_protocol: Callable[[dict[str, Any], Finished], None] | None = None,
) -> Finished:
    """Run ``argv`` to its end under the guarantees above; the exit code, vars and line counts."""
    process = subprocess.Popen(
        [sys.executable, "-I", str(LAUNCHER), json.dumps(limits()), *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: one signal reaches every descendant
    )
    lines: queue.Queue[tuple[str, bytes | None]] = queue.Queue()
    readers = [
        threading.Thread(target=_read, args=(name, pipe, lines), daemon=True)
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    finished = Finished(exit_code=-1)
    limit = settings.PORTICO_SCRIPT_OUTPUT_BYTES
    read = 0
    open_streams = 2
    exited_at: float | None = None
    checked = time.monotonic()
    try:
        while open_streams:
            try:
                stream, raw = lines.get(timeout=_TICK_SECONDS)
            except queue.Empty:
                stream, raw = "", b""
            if raw is None:
                open_streams -= 1
            elif raw:
                read += len(raw)
                if read > limit:
                    raise StepError(
                        f"the script wrote more than the {limit} bytes of output allowed "
                        "(PORTICO_SCRIPT_OUTPUT_BYTES): it was stopped"
                    )
                _line(stream, raw.decode("utf-8", "replace").rstrip("\r\n"), ctx, finished, on_protocol)
            now = time.monotonic()
            if now - checked >= _TICK_SECONDS:
                checked = now
                ctx.sleep(_CHECK_SECONDS)  # raises once the run is killed or timed out
            if exited_at is None and process.poll() is not None:
                exited_at = now
            idle = not stream  # nothing was waiting in the queue this round
            if exited_at is not None and idle and now - exited_at >= _AFTER_EXIT_SECONDS:
                # The script exited and everything it wrote has been read (and counted against the
                # limit): a background child still holds the pipes open. It is stopped below.
                break
        while process.poll() is None:
            ctx.sleep(_TICK_SECONDS)
        finished.exit_code = process.returncode
    finally:
        _stop_group(process)
        for reader in readers:
            reader.join(timeout=1)
    return finished


def _read(name: str, pipe: IO[bytes] | None, lines: queue.Queue[tuple[str, bytes | None]]) -> None:
    if pipe is None:
        return
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us: the script was stopped
        while raw := pipe.readline(_LINE_BYTES):
            lines.put((name, raw))
    lines.put((name, None))


def _line(
    stream: str,
    text: str,
    ctx: RunContext,
    finished: Finished,
    on_protocol: Callable[[dict[str, Any], Finished], None] | None,
) -> None:
    match = _PROTOCOL.match(text) if stream == "stdout" else None
    if match:
        try:
            message = json.loads(match.group(1))
        except ValueError:
            message = None
        if isinstance(message, dict):
            _protocol(message, ctx, finished)
            if on_protocol is not None:
                on_protocol(message, finished)
            return
    if stream == "stdout":
        finished.stdout_lines += 1
        ctx.log("INFO", text)
    else:
        finished.stderr_lines += 1
        ctx.log("WARN", text)


def _protocol(message: dict[str, Any], ctx: RunContext, finished: Finished) -> None:
    outputs = message.get("outputs")
    if isinstance(outputs, dict):
        finished.vars.update(outputs)
    for entry in message.get("logs") or []:
        if isinstance(entry, dict) and "message" in entry:
            level = str(entry.get("level") or "INFO").upper()
            level = level if level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR") else "INFO"
            ctx.log(level, str(entry["message"]))
    for metric in message.get("metrics") or []:
        if isinstance(metric, dict) and "name" in metric:
            kind = metric.get("type", "counter")
            ctx.log("DEBUG", f"metric {kind} {metric['name']} = {metric.get('value')}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the script's process group, SIGKILL what is left after the grace period."""
    for sig, wait in ((signal.SIGTERM, _STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while a descendant still runs in the group: it is killed above or here.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
