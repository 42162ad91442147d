from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "portal.executions"
    label = "executions"
    verbose_name = "Executions"
