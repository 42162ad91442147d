from django.apps import AppConfig


class OrchestratorConfig(AppConfig):
    name = "orchestrator"
    label = "orchestrator"

    def ready(self) -> None:
        # Task types register themselves on import.
        from . import plugins  # noqa: F401
