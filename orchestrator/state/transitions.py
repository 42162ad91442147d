"""The one place a state changes: Kestra's FROM→TO table and ``transition``.

Every state change of an execution or a task run goes through ``transition``: it locks the row, checks
the table, writes with a compare-and-set on the state it read, and sends the signal in the same
transaction, so a receiver's writes (an audit row, a request state) commit or roll back with it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator.state import secret_retention
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun
from orchestrator.state.signals import execution_state_changed, taskrun_state_changed
from orchestrator.state.template_context import iso

logger = logging.getLogger(__name__)

S = State
ALLOWED: dict[State, frozenset[State]] = {
    S.CREATED: frozenset({S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED, S.SKIPPED}),
    # QUEUED → FAILED, RUNNING/RETRYING → CANCELLED: an SLA's FAIL/CANCEL ends an execution in any live
    # state (Kestra's ``ExecutorService.processViolation``).
    S.QUEUED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset(
        {S.PAUSED, S.SUCCESS, S.WARNING, S.FAILED, S.RETRYING, S.RETRIED, S.KILLING, S.KILLED, S.CANCELLED}
    ),
    S.PAUSED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.RETRYING: frozenset({S.QUEUED, S.RUNNING, S.RETRIED, S.FAILED, S.KILLING, S.KILLED, S.CANCELLED}),
    S.RESTARTED: frozenset({S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED, S.FAILED}),
    S.KILLING: frozenset({S.KILLED, S.FAILED}),
    # Terminal states only leave through a restart.
    S.FAILED: frozenset({S.RESTARTED}),
    S.WARNING: frozenset({S.RESTARTED}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.SUCCESS: frozenset(),
    S.CANCELLED: frozenset(),
    S.RETRIED: frozenset(),
    S.SKIPPED: frozenset(),
}


def is_allowed(old: str, new: str) -> bool:
    return State(new) in ALLOWED[State(old)]


def transition(
    obj: Execution | TaskRun,
    to: State | str,
    *,
    reason: str = "",
    expect: dict[str, Any] | None = None,
    known: bool = False,
    **fields: Any,
) -> bool:
    """Move ``obj`` to ``to`` if Kestra's state graph allows it; False (and no write) otherwise.

    Extra ``fields`` are written in the same UPDATE (e.g. ``outputs``, their secrets sealed first). A
    callable field value gets the column's current value (``attempts=bump`` counts a claim); ``expect``
    adds conditions on the row (e.g. the attempt a worker holds). The UPDATE filters on the state it
    started from, and on ``expect``: a compare-and-set that also holds on SQLite, where SELECT FOR UPDATE
    is a no-op, so two workers can never both claim or finish the same row.

    The state, history and derived fields are read under the row lock, unless ``known``: the caller's
    ``obj`` was read under lock in this transaction, or is its own copy as this function last wrote it
    (a worker finishing the run it claimed). The compare-and-set then fails if anything changed since,
    because every change moves the state (no state leads to itself) and a re-claim bumps ``attempts``.
    """
    to = State(to)
    model = type(obj)
    if fields.get("outputs"):  # no plaintext secret is ever written to a row
        fields["outputs"] = secret_retention.sealed_outputs(obj, fields["outputs"])
    derived = [key for key, value in fields.items() if callable(value)]
    # No savepoint inside a caller's transaction: two extra round trips per change, and an error in
    # here aborts the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        if known:
            row = {key: getattr(obj, key) for key in ("state", "history", "started", *derived)}
        else:
            locked = model.objects.select_for_update().filter(pk=obj.pk, **(expect or {}))
            row = locked.values("state", "history", "started", *derived).first()
            if row is None:
                return False
        unchanged = {**(expect or {}), **{key: row[key] for key in derived}}
        for key in derived:
            fields[key] = fields[key](row[key])
        old = State(row["state"])
        if to not in ALLOWED[old]:
            logger.debug("refused %s %s: %s -> %s", model.__name__, obj.pk, old, to)
            return False
        now = timezone.now()
        entry = {"state": to.value, "date": iso(now)}
        if reason:
            entry["reason"] = reason
        values: dict[str, Any] = {"state": to, "history": [*row["history"], entry], **fields}
        if to == S.RUNNING and row["started"] is None:
            values["started"] = now
        if to in TERMINAL:
            values["ended"] = now
        if model.objects.filter(pk=obj.pk, state=old, **unchanged).update(**values) != 1:
            return False
        expressions = [k for k, v in values.items() if hasattr(v, "resolve_expression")]
        for key, value in values.items():
            if key not in expressions:
                setattr(obj, key, value)
        if expressions:
            obj.refresh_from_db(fields=expressions)
        announce(obj, old.value, to.value)
    return True


def bump(current: int) -> int:
    """``attempts=bump`` in ``transition``: one more than the locked row holds."""
    return current + 1


def claim_for(run: TaskRun, holder: dict[str, Any]) -> bool:
    """CREATED/QUEUED → RUNNING for the worker ``holder`` names (``worker_task_id``, ``worker``): one more
    attempt and a fresh heartbeat. ``run`` must be current: read under lock, or created in this
    transaction (a hand-off). A broker delivery and a hand-off claim through this one call."""
    return transition(run, S.RUNNING, known=True, attempts=bump, heartbeat=timezone.now(), **holder)


def announce(obj: Execution | TaskRun, old: str | None, new: str) -> None:
    if isinstance(obj, Execution):
        execution_state_changed.send(sender=Execution, execution=obj, old=old, new=new)
    else:
        taskrun_state_changed.send(sender=TaskRun, taskrun=obj, old=old, new=new)
