from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"

    def ready(self) -> None:
        from . import rules  # the models are loaded now; rules reads NamespaceGrant

        rules.register()
