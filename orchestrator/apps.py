"""The orchestrator app: where its layers are wired together, once, when Django starts.

Lower layers cannot import upper ones, so what an upper layer provides to a lower one is handed down
here: the task types (plugins → task registry), the flowables with their own scheduling (executor →
walker), the worker's Celery entry point (worker → executor's dispatch) and the signal receivers.
"""

from django.apps import AppConfig


class OrchestratorConfig(AppConfig):
    name = "orchestrator"
    label = "orchestrator"

    def ready(self) -> None:
        from orchestrator import plugins
        from orchestrator.executor import concurrency_release, for_each_item, timeouts, waiting, walker
        from orchestrator.executor.handoff import set_sender
        from orchestrator.scheduler import triggers
        from orchestrator.state import secret_retention, secret_store
        from orchestrator.worker import groups

        plugins.load()
        for type_name, handler in (*waiting.HANDLERS.items(), *for_each_item.HANDLERS.items()):
            walker.register_handler(type_name, handler)
        set_sender(groups.send)  # to the run's worker-group queue (or the default one)
        groups.connect_receivers()  # a starting worker joins its worker groups
        concurrency_release.connect_receivers()
        timeouts.connect_receivers()
        waiting.connect_receivers()
        triggers.connect_receivers()
        secret_retention.connect_receivers()
        secret_store.connect()  # secret('NAME') reads the namespace secret store (or Vault)
