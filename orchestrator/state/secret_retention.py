"""Where an execution's secrets are sealed, read back and dropped (the rule: ``flowmodel.secrets_at_rest``).

* Sealed on the way in: an execution's SECRET inputs before its row is first written (``pre_save``),
  and outputs (of a task run or of the execution) whenever ``transition`` records them: values a task
  wrapped in ``Secret``, SECRET values given to a Pause's ``onResume``, and any string holding a SECRET
  input's value.
* Read back only for use: ``secret_values`` (to mask log lines) and the template context.
* Dropped when nothing can need them any more. At SUCCESS, CANCELLED and SKIPPED (nothing can run
  again) they are dropped in the transaction that ends the execution. FAILED, WARNING and KILLED can be
  restarted and RETRIED is copied into its new execution, so those keep their sealed secrets for
  ``PORTICO_SECRET_RESTART_HOURS`` after they end; the daily purge job (``drop_expired``) then drops
  them, and a restart after that runs without them. An execution with ``afterExecution`` tasks is
  also left to ``drop_expired`` (those tasks run after the end and may read the inputs), and so is a
  subflow's execution (its parent's Subflow task copies its outputs after it ended).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.db.models.signals import pre_save
from django.utils import timezone

from orchestrator.flowmodel import input_types, masking, secrets_at_rest
from orchestrator.flowmodel.spec import Flow, parse_inputs
from orchestrator.state.flow_snapshots import flow_for
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun
from orchestrator.state.signals import execution_state_changed

# Ended executions nothing can run again: their secrets go at once.
DROPPED_AT_END = frozenset({State.SUCCESS, State.CANCELLED, State.SKIPPED})
_DEFAULT_RESTART_HOURS = 24.0


def secret_values(execution: Execution, flow: Flow) -> list[str]:
    """The plaintext SECRET input values of ``execution`` (dropped ones are gone: not listed)."""
    ids = input_types.secret_ids(flow)
    if not ids:
        return []
    values = [secrets_at_rest.reveal(execution.inputs.get(i)) for i in ids]
    return [str(v) for v in values if v not in (None, "")]


def seal_new_execution(sender: Any, instance: Execution, update_fields: Any = None, **_: Any) -> None:
    """``pre_save`` of ``Execution``: no plaintext SECRET input (or output holding one) is ever written."""
    if update_fields is not None and not {"inputs", "outputs"} & set(update_fields):
        return
    if not instance.flow_source and not instance.flow_revision:
        return
    flow = flow_for(instance)
    ids = input_types.secret_ids(flow)
    if ids and instance.inputs:
        instance.inputs = secrets_at_rest.seal_inputs(instance.inputs, ids)
    if instance.outputs:
        instance.outputs = secrets_at_rest.seal_outputs(instance.outputs, secret_values(instance, flow))


def sealed_outputs(obj: Execution | TaskRun, outputs: Any) -> Any:
    """``outputs`` as ``transition`` stores them for ``obj`` (see the module docstring)."""
    if not outputs:
        return outputs
    execution = obj if isinstance(obj, Execution) else _execution_of(obj)
    if execution is None:
        return outputs
    flow = flow_for(execution)
    if isinstance(obj, TaskRun) and isinstance(outputs, dict) and isinstance(outputs.get("onResume"), dict):
        outputs = {**outputs, "onResume": _sealed_on_resume(flow, obj.task_id, outputs["onResume"])}
    # SECRET inputs, and values ``secret()`` (or a plugin) registered while rendering this run.
    secrets = [*secret_values(execution, flow), *masking.known_secrets()]
    if not secrets and not secrets_at_rest.has_marked(outputs):
        return outputs
    return secrets_at_rest.seal_outputs(outputs, secrets)


def _sealed_on_resume(flow: Flow, task_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """A Pause's ``onResume`` values (its output) with the SECRET ones sealed."""
    task = flow.find_task(task_id)
    items = (task.props.get("onResume") if task is not None else None) or []
    ids = {item.id for item in parse_inputs(items, path=f"{task_id}.onResume") if item.type == "SECRET"}
    return secrets_at_rest.seal_inputs(values, ids) if ids else values


def _execution_of(run: TaskRun) -> Execution | None:
    """The run's execution, without a query when the caller already loaded it (the worker does)."""
    if TaskRun.execution.is_cached(run):
        return run.execution
    return Execution.objects.filter(pk=run.execution_id).defer("flow_source").first()


def drop_secrets(execution_id: Any) -> int:
    """Replace every sealed value of the execution (inputs, outputs, its task runs' outputs) with a
    dropped marker; how many rows changed."""
    changed = 0
    row = Execution.objects.filter(pk=execution_id).values("inputs", "outputs").first()
    if row is None:
        return 0
    if secrets_at_rest.contains_sealed(row["inputs"]) or secrets_at_rest.contains_sealed(row["outputs"]):
        changed += Execution.objects.filter(pk=execution_id).update(
            inputs=secrets_at_rest.drop(row["inputs"]), outputs=secrets_at_rest.drop(row["outputs"])
        )
    runs = (
        TaskRun.objects.filter(execution_id=execution_id)
        .annotate(outputs_text=Cast("outputs", TextField()))
        .filter(outputs_text__contains=secrets_at_rest.STORED_PREFIX)
        .values_list("pk", "outputs")
    )
    for pk, outputs in runs:
        changed += TaskRun.objects.filter(pk=pk).update(outputs=secrets_at_rest.drop(outputs))
    return changed


def on_execution_state_changed(sender: Any, execution: Execution, old: Any, new: str, **_: Any) -> None:
    """Drop the secrets in the transaction that ends an execution nothing can run again."""
    if new not in DROPPED_AT_END:
        return
    if execution.parent_id is not None:
        return  # a subflow's outputs go to its parent's task run after this: drop_expired does it
    if getattr(flow_for(execution), "after_execution", None):
        return  # its afterExecution tasks may still read them: drop_expired does it
    drop_secrets(execution.pk)
    # Later receivers (the portal's) read this instance: they must not copy what was just dropped.
    execution.inputs = secrets_at_rest.drop(execution.inputs)
    execution.outputs = secrets_at_rest.drop(execution.outputs)


def restart_window() -> timedelta:
    """How long a restartable execution keeps its sealed secrets after it ended."""
    hours = float(getattr(settings, "PORTICO_SECRET_RESTART_HOURS", _DEFAULT_RESTART_HOURS))
    if hours < 0:
        raise ValueError(f"PORTICO_SECRET_RESTART_HOURS must be 0 or more, not {hours:g}")
    return timedelta(hours=hours)


def drop_expired(*, now: datetime | None = None) -> int:
    """Drop the secrets of every execution that ended before the restart window; executions changed."""
    cutoff = (now or timezone.now()) - restart_window()
    sealed = secrets_at_rest.STORED_PREFIX
    ended = Execution.objects.filter(state__in=[s.value for s in TERMINAL], ended__lt=cutoff).annotate(
        inputs_text=Cast("inputs", TextField()), outputs_text=Cast("outputs", TextField())
    )
    live = Q(inputs_text__contains=sealed) | Q(outputs_text__contains=sealed)
    candidates = set(ended.filter(live).values_list("pk", flat=True))
    runs = TaskRun.objects.annotate(outputs_text=Cast("outputs", TextField())).filter(
        outputs_text__contains=sealed, execution__in=ended.values("pk")
    )
    candidates |= set(runs.values_list("execution_id", flat=True))
    return sum(1 for pk in candidates if drop_secrets(pk))


def connect_receivers() -> None:
    """Called from ``AppConfig.ready``: seal before the first write, drop at the end."""
    pre_save.connect(seal_new_execution, sender=Execution, dispatch_uid="portico-seal-execution")
    execution_state_changed.connect(
        on_execution_state_changed, sender=Execution, dispatch_uid="portico-drop-secrets"
    )
