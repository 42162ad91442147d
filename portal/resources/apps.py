from django.apps import AppConfig


class ResourcesConfig(AppConfig):
    name = "portal.resources"
    label = "resources"
    verbose_name = "Resources"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
