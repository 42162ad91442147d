from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "portal.notifications"
    label = "notifications"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
