from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401
        from .admin_changes import install_bulk_log_hook

        install_bulk_log_hook()
