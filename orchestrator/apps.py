from django.apps import AppConfig


class OrchestratorConfig(AppConfig):
    name = "orchestrator"
    label = "orchestrator"

    def ready(self) -> None:
        # Task types register themselves on import.
        # Flow triggers listen to execution state changes.
        from . import (
            plugins,  # noqa: F401
            triggers,  # noqa: F401
        )
