"""An execution's log lines, masked with its secrets before they are stored."""

from __future__ import annotations

from orchestrator.flowmodel import input_types, masking
from orchestrator.flowmodel.spec import Flow
from orchestrator.state.flow_snapshots import flow_for
from orchestrator.state.models import Execution, LogLine, TaskRun


def secret_values(execution: Execution, flow: Flow) -> list[str]:
    """The execution's SECRET input values, also registered for process-wide log masking."""
    values = [execution.inputs.get(i) for i in input_types.secret_ids(flow)]
    secrets = [str(v) for v in values if v not in (None, "")]
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
        message=masking.mask(str(message), secrets),
    )
