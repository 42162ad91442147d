"""Django finds an app's models in ``<app>.models``; they live in the state layer."""

from orchestrator.state.models import (  # noqa: F401
    Execution,
    FlowConcurrency,
    KeyValue,
    LogLine,
    TaskRun,
    Trigger,
)
