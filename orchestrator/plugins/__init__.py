"""Task families, one package each; ``load`` registers their task types (from ``AppConfig.ready``).

A family depends on the flow model's task API (``orchestrator.flowmodel.task_api``) and, where a task
must, on the state layer (KV, internal storage) — never on the executor, the worker or the scheduler.
"""

from __future__ import annotations

import importlib

# Modules whose ``@task_api.register`` declarations make up Portico's built-in task types.
FAMILIES: tuple[str, ...] = (
    "orchestrator.plugins.core.tasks",
    "orchestrator.plugins.core.flowables",
    "orchestrator.plugins.core.execution",
    "orchestrator.plugins.core.storage",
    "orchestrator.plugins.core.trigger_types",
    "orchestrator.plugins.core.kv",
    "orchestrator.plugins.terraform.tasks",
    "orchestrator.plugins.hcloud.tasks",
    "orchestrator.plugins.http.tasks",
    "orchestrator.plugins.notifications.webhooks",
    "orchestrator.plugins.notifications.mail",
)


def load() -> None:
    """Import every family so its task types are in the registry; importing twice is a no-op."""
    for name in FAMILIES:
        importlib.import_module(name)
