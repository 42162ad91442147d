from django.apps import AppConfig


class RequestsConfig(AppConfig):
    name = "portal.requests"
    label = "requests"
    verbose_name = "Requests"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
