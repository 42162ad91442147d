"""Durable execution state: the database, never the broker, is the source of truth.

State changes go through ``orchestrator.state.transitions.transition``; nothing else should assign ``state``.
"""

from __future__ import annotations

import uuid

from django.db import models, transaction
from django.utils import timezone

from orchestrator.state.signals import trigger_enabled_changed


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
    SKIPPED = "SKIPPED"  # a task whose ``runIf`` rendered false (Kestra 0.20+)

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


# Kestra's ``isTerminated``: RETRIED (the execution was replaced by a new one) and SKIPPED end too.
TERMINAL: frozenset[State] = frozenset(
    {
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
        State.CANCELLED,
        State.RETRIED,
        State.SKIPPED,
    }
)
# How bad an outcome is, for a block that combines its tasks' states (the worst wins).
SEVERITY: dict[State, int] = {
    State.SUCCESS: 0,
    State.SKIPPED: 0,
    State.WARNING: 1,
    State.FAILED: 2,
    State.RETRIED: 2,
    State.CANCELLED: 3,
    State.KILLED: 4,
}
# Outcomes that stop a sequence and send a block to its ``errors`` branch.
FAILING: frozenset[State] = frozenset({State.FAILED, State.KILLED, State.CANCELLED})


def running_states() -> models.Q:
    """Executions still in progress (for selectors)."""
    return ~models.Q(state__in=[s.value for s in TERMINAL])


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
    # A Subflow's child points at the parent's execution and task run; killing the parent kills it.
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    parent_taskrun = models.ForeignKey(
        "TaskRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="subflow_executions"
    )
    # A replay is a new execution; it remembers the one it copied its earlier task runs from.
    original = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replays"
    )

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
    # The Celery task id of the delivery that claimed this run, so a kill can revoke it.
    worker_task_id = models.CharField(max_length=64, blank=True, default="")
    # When a waiting run (Pause delay/timeout, WaitFor interval) must be looked at again; the timer
    # message does that on time, a periodic sweep catches a lost one.
    wake_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set on claim and refreshed while the task runs: the reconciler re-queues a run whose heartbeat
    # stopped (its worker vanished). Empty/None for flowables, which no worker holds.
    worker = models.CharField(max_length=255, blank=True, default="")
    heartbeat = models.DateTimeField(null=True, blank=True)

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


class KeyValue(models.Model):
    """Namespace key-value state (Kestra's ``state.*`` tasks): JSON values, optionally expiring."""

    id = models.BigAutoField(primary_key=True)
    namespace = models.CharField(max_length=255)
    key = models.CharField(max_length=512)
    value = models.JSONField(default=dict, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "key"], name="orch_kv_namespace_key")]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.key}"


class Trigger(models.Model):
    """A trigger declared in a flow, as last synced from the flows
    (``orchestrator.scheduler.triggers.sync_triggers``).

    ``enabled`` is the operator's switch (admin); it survives re-syncs. ``props`` and ``flow_source``
    are the declaration and its flow at the last sync, so firing needs no file access.
    """

    namespace = models.CharField(max_length=255)
    flow_id = models.CharField(max_length=255)
    trigger_id = models.CharField(max_length=255)
    type = models.CharField(max_length=32)  # short Kestra name: Schedule, Webhook, Flow
    enabled = models.BooleanField(default=True)
    props = models.JSONField(default=dict, blank=True)
    flow_revision = models.CharField(max_length=64, blank=True, default="")
    flow_source = models.TextField(blank=True, default="")
    last_fired = models.DateTimeField(null=True, blank=True)
    # Schedule: the cron tick last fired, so a duplicate beat message for the same tick is a no-op.
    last_scheduled = models.DateTimeField(null=True, blank=True)
    last_execution = models.UUIDField(null=True, blank=True)
    # Schedule: Kestra's trigger-context ``backfill`` (the declared one, its end and the date it has
    # reached), kept after it ends so the same declaration is not replayed at the next sync.
    backfill = models.JSONField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "flow_id", "trigger_id"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "flow_id", "trigger_id"], name="orch_trigger_unique")
        ]
        indexes = [models.Index(fields=["type", "enabled"], name="orch_trigger_type_enabled")]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.flow_id}:{self.trigger_id} ({self.type})"

    def set_enabled(self, enabled: bool) -> None:
        """The operator's switch (admin, the Toggle task). ``trigger_enabled_changed`` goes out in the
        same transaction, so the scheduler's beat entry follows the row or neither changes."""
        with transaction.atomic():
            Trigger.objects.filter(pk=self.pk).update(enabled=enabled)
            self.enabled = enabled
            trigger_enabled_changed.send(sender=Trigger, trigger=self)


class FlowRevision(models.Model):
    """Kestra's integer flow revisions: 1 for the first source of ``namespace.flow_id`` seen, then one
    more for each new source (recorded by ``orchestrator.state.flow_snapshots.record_revision``).

    ``Execution.flow_revision`` stays the source's content hash (the parse caches key on it); the
    number is looked up here by that hash, and a Subflow's ``revision: N`` starts ``source``.
    """

    id = models.BigAutoField(primary_key=True)
    namespace = models.CharField(max_length=255)
    flow_id = models.CharField(max_length=255)
    number = models.PositiveIntegerField()
    source = models.TextField()
    source_hash = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["namespace", "flow_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "flow_id", "number"], name="orch_flowrevision_number"
            ),
            models.UniqueConstraint(
                fields=["namespace", "flow_id", "source_hash"], name="orch_flowrevision_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.flow_id} revision {self.number}"


class FlowConcurrency(models.Model):
    """One row per flow with a ``concurrency`` limit: the lock admissions and dequeues take.

    Locking this row (``select_for_update``) serialises "count the running executions, then start or
    queue one" per flow on PostgreSQL; SQLite serialises every write transaction anyway.
    """

    id = models.BigAutoField(primary_key=True)
    namespace = models.CharField(max_length=255)
    flow_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "flow_id"], name="orch_flowconcurrency_flow")
        ]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.flow_id}"


class NamespaceSecret(models.Model):
    """A secret of a namespace, read by ``{{ secret('NAME') }}`` in its flows and its child namespaces'
    (``orchestrator.state.secret_store``; Kestra's namespace secrets).

    ``sealed`` is ``{"$secret": "<Fernet token>"}`` (``flowmodel.secrets_at_rest``): never plaintext, and
    ``manage.py rotate_secrets`` re-encrypts it like every other sealed JSON value. Changes go through
    ``secret_store.set_secret`` / ``delete_secret``, which send ``namespace_secret_changed``.
    """

    id = models.BigAutoField(primary_key=True)
    namespace = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    sealed = models.JSONField()
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="orch_namespacesecret_name")
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"
