"""An execution's log lines, masked with its secrets before they are stored.

A task with ``logToFile: true`` writes its lines to a file instead (``LogFile``), as Kestra's
``RunContextLogger`` does: masked the same way, one ``<ISO date> <LEVEL> <message>`` line each, put in
internal storage when the attempt ends; its ``kestra:///`` URI is recorded as the attempt's ``logFile``
(on the attempt's RUNNING entry of the run's history, where ``retries.attempts`` reads attempts).
"""

from __future__ import annotations

import secrets as random
import tempfile
from pathlib import Path

from django.utils import timezone

from orchestrator.flowmodel import masking, storage
from orchestrator.flowmodel.spec import Flow
from orchestrator.state import secret_retention
from orchestrator.state.flow_snapshots import flow_for
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from orchestrator.state.template_context import iso


def secret_values(execution: Execution, flow: Flow) -> list[str]:
    """The execution's SECRET input values (decrypted), also registered for process-wide log masking."""
    secrets = secret_retention.secret_values(execution, flow)
    masking.register_secrets(secrets)
    return secrets


def log(
    execution: Execution, taskrun: TaskRun | None, level: str, message: str, secrets: list[str] | None = None
) -> LogLine:
    """Store a log line, masked with the execution's secrets."""
    if secrets is None:
        secrets = secret_values(execution, flow_for(execution))
    return LogLine.objects.create(
        execution=execution,
        taskrun=taskrun,
        level=level.upper(),
        message=masking.mask(str(message), secrets, per_character=True),  # Kestra's log-line masking
    )


class LogFile:
    """One attempt's log lines, in a local file until ``store`` puts it in internal storage."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = secrets
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open across log calls, closed in store
            "w", encoding="utf-8", prefix="portico-log-", suffix=".txt", delete=False
        )
        self._handle = handle
        self.path = Path(handle.name)

    def write(self, level: str, message: str) -> None:
        masked = masking.mask(str(message), self._secrets, per_character=True)
        self._handle.write(f"{iso(timezone.now())} {level.upper():<5} {masked}\n")

    def store(self, taskrun: TaskRun) -> str:
        """Put the file in the run's storage (``log-xxxxx.txt``, Kestra's name) and record its URI."""
        self._handle.close()
        try:
            name = f"log-{random.token_hex(3)[:5]}.txt"
            uri = storage.put_file(storage.taskrun_prefix(taskrun), name, self.path)
        finally:
            self.path.unlink(missing_ok=True)
        attach_log_file(taskrun, uri)
        return uri


def attach_log_file(taskrun: TaskRun, uri: str) -> None:
    """Record ``uri`` as the current attempt's ``logFile`` (no state change: compare-and-set on the
    state and attempt the worker holds, and its in-memory copy kept equal for the next transition)."""
    history = [dict(entry) for entry in taskrun.history or []]
    for entry in reversed(history):
        if entry.get("state") == State.RUNNING.value:
            entry["logFile"] = uri
            break
    else:
        return
    updated = TaskRun.objects.filter(pk=taskrun.pk, state=taskrun.state, attempts=taskrun.attempts).update(
        history=history
    )
    if updated:
        taskrun.history = history
