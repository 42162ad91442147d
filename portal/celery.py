"""The Celery application: configuration comes from Django settings (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portico")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Modules that define Celery tasks. The orchestrator's live in its layers (the worker's task runs and
# reconciler, the scheduler's beat jobs, and the executor's timers: retries, pauses, kills, timeouts).
app.autodiscover_tasks(
    [
        "orchestrator.worker.task_runs",
        "orchestrator.worker.reconciler",
        "orchestrator.scheduler.beat_jobs",
        "orchestrator.executor.control",
        "orchestrator.executor.timeouts",
        "orchestrator.executor.retry_executions",
        "orchestrator.executor.retries",
        "orchestrator.executor.waiting",
    ],
    related_name=None,
)
app.autodiscover_tasks(
    ["portal.notifications", "portal.resources", "portal.catalog", "portal.approvals", "portal.audit"]
)
