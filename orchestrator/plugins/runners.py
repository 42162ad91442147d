"""Kestra's task runners, as this worker has them: only ``io.kestra.plugin.core.runner.Process``.

Script-like tasks (scripts, TerraformCLI) accept Kestra's runner properties so their flows load, but a
flow that asks for a container (``containerImage``, ``docker``, a Docker or Kubernetes ``taskRunner``,
``runner: DOCKER``) is refused at load: running it as a plain process instead would be a silent change
of what the flow asked for.
"""

from __future__ import annotations

from typing import Any

PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
NO_CONTAINERS = "Docker task runner not supported on this worker: use the Process task runner"


def no_container(value: Any) -> Any:
    """For ``containerImage`` and ``docker``: any value is a request for a container."""
    if value is not None:
        raise ValueError(NO_CONTAINERS)
    return value


def process_runner(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """For ``taskRunner``: the Process runner (it has no properties of its own), nothing else."""
    if value is None:
        return value
    if value.get("type") != PROCESS_RUNNER:
        kind = value.get("type")
        raise ValueError(f"task runner '{kind}' not supported on this worker: use {PROCESS_RUNNER}")
    extra = sorted(set(value) - {"type"})
    if extra:
        raise ValueError(f"{', '.join(extra)}: unknown property of the Process runner")
    return value
