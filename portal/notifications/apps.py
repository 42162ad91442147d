import logging

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "portal.notifications"
    label = "notifications"

    def ready(self) -> None:
        from . import receivers  # noqa: F401

        # Apprise's log lines may quote a channel's URL (its token): ``chat`` captures and masks them
        # per send, so they never reach the root logger's handlers as they are.
        logging.getLogger("apprise").propagate = False
