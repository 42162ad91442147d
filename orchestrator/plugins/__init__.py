"""Task families, one package each; ``load`` registers their task types (from ``AppConfig.ready``).

A family depends on the flow model's task API (``orchestrator.flowmodel.task_api``) and, where a task
must, on the state layer (KV, internal storage) — never on the executor, the worker or the scheduler.

Third-party families are Python packages that declare an entry point in the ``portico.plugins`` group
(``docs/plugins.md``): ``pip install`` one and its task types load with the built-in ones.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from orchestrator.flowmodel import task_api

ENTRY_POINT_GROUP = "portico.plugins"
BUILT_IN = "portico"
logger = logging.getLogger(__name__)
# Canonical type name -> the distribution that registered it (``manage.py plugins list``).
SOURCES: dict[str, str] = {}

# Modules whose ``@task_api.register`` declarations make up Portico's built-in task types.
FAMILIES: tuple[str, ...] = (
    "orchestrator.plugins.core.tasks",
    "orchestrator.plugins.core.flow",
    "orchestrator.plugins.core.execution",
    "orchestrator.plugins.core.local_files",
    "orchestrator.plugins.core.trigger_types",
    "orchestrator.plugins.core.kv",
    "orchestrator.plugins.core.files",
    "orchestrator.plugins.terraform.tasks",
    "orchestrator.plugins.hcloud.tasks",
    "orchestrator.plugins.http.tasks",
    "orchestrator.plugins.http.trigger",
    "orchestrator.plugins.notifications.webhooks",
    "orchestrator.plugins.notifications.mail",
    "orchestrator.plugins.scripts.tasks",
    "orchestrator.plugins.ansible.tasks",
)


def load() -> None:
    """Import every family so its task types are in the registry; importing twice is a no-op.

    A third-party family that fails to import is logged and skipped: one broken package must not stop
    the worker; the flows that use its types then fail to load with "unknown task type".
    """
    for name in FAMILIES:
        _import(name, BUILT_IN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        source = entry.dist.name if entry.dist is not None else entry.value
        try:
            _import(entry.value.split(":")[0], source)
        except Exception:  # a plugin's own bug
            logger.exception("plugin %s (%s) could not be loaded", entry.name, source)


def _import(module: str, source: str) -> None:
    before = {task_type.name for task_type in task_api.all_types()}
    importlib.import_module(module)
    for task_type in task_api.all_types():
        if task_type.name not in before:
            SOURCES.setdefault(task_type.name, source)
