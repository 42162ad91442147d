"""Kestra's ``taskCache: {enabled, ttl}``: a runnable task's outputs, reused instead of running it again.

Kestra's ``Worker`` (0.24+) keys an entry by the SHA-256 of the whole task (id, type, properties and
the common keys, ``taskCache`` included) rendered in the run's context, with ``workingDir`` rendered as
the fixed text ``workingDir`` so a fresh directory does not change the key. Entries belong to the flow
(namespace and flow id) and to the run's iteration value (a ForEach value gets its own entry). An entry
is written after an attempt that ends SUCCESS or WARNING; it expires ``ttl`` after it was written (no
``ttl``: never). A hit skips the plugin: the run ends SUCCESS with the cached outputs and an INFO line
saying so. Any error computing the key or reading an entry only means "no cache": the task runs.

Entries are ``KeyValue`` rows in a namespace no flow can name (it starts with ``_``), holding the
outputs as stored on a task run (secrets sealed, ``secret_retention``), never in plaintext.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from orchestrator.flowmodel import templating
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.spec import TaskSpec
from orchestrator.state import secret_retention
from orchestrator.state.models import KeyValue, TaskRun

logger = logging.getLogger(__name__)
NAMESPACE = "_portico.task-cache"
HIT = "Skipping task execution for task '{task}' as there is an existing cache entry for it"
_WORKING_DIR = "workingDir"  # Kestra renders ``{{ workingDir }}`` as this text when it hashes a task


def enabled(task: TaskSpec) -> bool:
    cache = task.common.get("taskCache")
    return isinstance(cache, dict) and cache.get("enabled") is True


def ttl(task: TaskSpec) -> timedelta | None:
    value = (task.common.get("taskCache") or {}).get("ttl")
    return parse_duration(value) if value is not None else None


def key(run: TaskRun, task: TaskSpec, context: dict[str, Any]) -> str | None:
    """The entry's key for this run, or None when the task cannot be rendered for hashing."""
    whole = {"id": task.id, "type": task.type, **task.common, **task.props}
    whole.pop("dependsOn", None)  # a Dag's edge, kept with the common keys; not a task property
    try:
        rendered = templating.render(whole, {**context, "workingDir": _WORKING_DIR})
        text = json.dumps(rendered, sort_keys=True, separators=(",", ":"), default=str)
    except (templating.TemplateError, TypeError, ValueError) as exc:
        logger.warning("task %s: cannot compute its cache key (%s); it runs uncached", task.id, exc)
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    value = hashlib.sha256(run.value.encode("utf-8")).hexdigest() if run.value is not None else "-"
    execution = run.execution
    return f"{execution.namespace}/{execution.flow_id}/{digest}/{value}"


def lookup(entry: str) -> dict[str, Any] | None:
    """The cached outputs under ``entry``, or None (missing or expired; an expired one is removed)."""
    row = KeyValue.objects.filter(namespace=NAMESPACE, key=entry).values("value", "expires").first()
    if row is None:
        return None
    if row["expires"] is not None and row["expires"] <= timezone.now():
        KeyValue.objects.filter(namespace=NAMESPACE, key=entry, expires__lte=timezone.now()).delete()
        return None
    value = row["value"]
    return (
        value.get("outputs") if isinstance(value, dict) and isinstance(value.get("outputs"), dict) else None
    )


def store(entry: str, run: TaskRun, outputs: dict[str, Any], lifetime: timedelta | None) -> None:
    """Write (or replace) the entry; a failure is logged and the result simply is not cached."""
    expires = timezone.now() + lifetime if lifetime is not None else None
    try:
        sealed = secret_retention.sealed_outputs(run, outputs)
        with transaction.atomic():
            KeyValue.objects.update_or_create(
                namespace=NAMESPACE, key=entry, defaults={"value": {"outputs": sealed}, "expires": expires}
            )
    except (IntegrityError, TypeError, ValueError) as exc:
        logger.warning("task %s: cannot store its cache entry (%s)", run.task_id, exc)
