"""An execution's log lines, masked with its secrets before they are stored."""

from __future__ import annotations

from orchestrator.flowmodel import masking
from orchestrator.flowmodel.spec import Flow
from orchestrator.state import secret_retention
from orchestrator.state.flow_snapshots import flow_for
from orchestrator.state.models import Execution, LogLine, TaskRun


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
