"""Durable execution state: the database, never the broker, is the source of truth.

State changes go through ``orchestrator.engine.transition``; nothing else should assign ``state``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class State(models.TextChoices):
    """Kestra's state names, so flows, APIs and people see the same words as in Kestra."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    KILLED = "KILLED"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    RETRYING = "RETRYING"
    RETRIED = "RETRIED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL: frozenset[State] = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED}
)
_STATE_LENGTH = 16


class Execution(models.Model):
    """One run of a flow.

    ``flow_source`` is a snapshot: editing ``flows/`` never changes a running execution.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    namespace = models.CharField(max_length=255)
    flow_id = models.CharField(max_length=255)
    flow_revision = models.CharField(max_length=64)
    flow_source = models.TextField()
    # Resolved input values, secrets included (the DB is trusted); never log or display them unmasked.
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    trigger = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=_STATE_LENGTH, choices=State.choices, default=State.CREATED)
    # [{"state", "date", "reason"}]: Kestra's state history, written by engine.transition.
    history = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["state", "created"], name="orch_exec_state_created"),
            models.Index(fields=["namespace", "flow_id", "created"], name="orch_exec_flow_created"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.flow_id} {self.id} [{self.state}]"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL


class TaskRun(models.Model):
    """One task of one execution (one row per task and iteration value; retries bump ``attempts``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="task_runs")
    task_id = models.CharField(max_length=255)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    value = models.TextField(null=True, blank=True)
    state = models.CharField(max_length=_STATE_LENGTH, choices=State.choices, default=State.CREATED)
    history = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    outputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created"]
        indexes = [
            models.Index(fields=["execution", "state"], name="orch_taskrun_exec_state"),
            models.Index(fields=["execution", "task_id"], name="orch_taskrun_exec_task"),
            models.Index(fields=["state", "created"], name="orch_taskrun_state_created"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} [{self.state}]"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL


class LogLine(models.Model):
    """A log line of an execution; ``message`` is stored already masked."""

    id = models.BigAutoField(primary_key=True)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="logs")
    taskrun = models.ForeignKey(TaskRun, on_delete=models.CASCADE, null=True, blank=True, related_name="logs")
    timestamp = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, default="INFO")
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["execution", "id"], name="orch_log_exec_id")]

    def __str__(self) -> str:
        return f"{self.timestamp:%H:%M:%S} {self.level} {self.message[:80]}"
