from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "portal.approvals"
    label = "approvals"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (also registers the portico.approval.* label check)
