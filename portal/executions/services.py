"""Operator actions on an execution, permission-checked and audited.

The work is ``orchestrator.executor.control``'s. Who may do what (the page shows only these buttons, and
every POST checks again); operators are those who see every execution (``accounts.visibility``):

- **kill**: approvers and superusers, on any unfinished execution; the requester too, on the execution of
  their own request (stopping what you asked for needs nobody's approval).
- **resume**: approvers and superusers, but not on their own request: a Pause is a human gate, and like a
  decision nobody passes their own (``portal.approvals`` forbids self-approval for the same reason).
- **restart** (from the failed task) and **replay** (from any task): approvers and superusers only, and
  not on their own request; both run infrastructure changes again, which the requester alone may not
  decide (an approver who requested is a requester here).

An approver scoped to cost centers operates only executions of requests charged to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from orchestrator.executor import control
from orchestrator.state.models import Execution, State
from portal.accounts.visibility import operates
from portal.audit import services as audit
from portal.requests.models import ResourceRequest

from .selectors import request_for

RESTARTABLE = frozenset({State.FAILED, State.KILLED, State.WARNING})


@dataclass(frozen=True)
class Allowed:
    kill: bool = False
    resume: bool = False
    restart: bool = False
    replay: bool = False

    @property
    def any(self) -> bool:
        return self.kill or self.resume or self.restart or self.replay


def permitted(user: Any, request: ResourceRequest | None, namespace: str | None = None) -> Allowed:
    """What ``user``'s role allows on an execution of a flow of ``namespace`` started by ``request`` (None:
    no request), in any state. Operators of the namespace (``accounts.rules``) operate it; ``namespace``
    None: the request's flow's."""
    if not (user and user.is_authenticated):
        return Allowed()
    if namespace is None and request is not None:
        namespace = request.catalog_flow.namespace
    cost_center_id = request.cost_center_id if request is not None else None
    operator = operates(user, cost_center_id, namespace)
    owner = request is not None and request.requester_id == user.pk
    others = operator and not owner
    return Allowed(kill=operator or owner, resume=others, restart=others, replay=others)


def allowed_actions(user: Any, execution: Execution, request: ResourceRequest | None) -> Allowed:
    """The buttons to show: what the role allows and the execution's current state makes sensible."""
    may = permitted(user, request, execution.namespace)
    state = execution.state
    return Allowed(
        kill=may.kill and not execution.is_terminal and state != State.KILLING,
        resume=may.resume and state == State.PAUSED,
        restart=may.restart and state in RESTARTABLE,
        replay=may.replay and execution.is_terminal,
    )


def _check(user: Any, execution_id: Any, action: str) -> tuple[Execution, ResourceRequest | None]:
    """PermissionDenied unless the role allows ``action``; a state that no longer fits (someone else was
    quicker) is not an error: ``orchestrator.executor.control`` then changes nothing and returns False."""
    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None:
        raise control.ControlError(f"execution '{execution_id}' not found")
    request = request_for(execution)
    if not getattr(permitted(user, request, execution.namespace), action):
        raise PermissionDenied(f"{user} may not {action} execution {execution.pk}")
    return execution, request


def _record(
    verb: str, user: Any, execution: Execution, request: ResourceRequest | None, **details: Any
) -> None:
    """On the request's trail when there is one (its audit page shows it), else on the execution."""
    audit.record(
        verb,
        actor=user,
        target=request if request is not None else execution,
        cost_center=request.cost_center if request is not None else None,
        flow=(execution.namespace, execution.flow_id),
        details={"execution": str(execution.pk), **details},
    )


def kill(execution_id: Any, *, acting_user: Any) -> bool:
    with transaction.atomic():
        execution, request = _check(acting_user, execution_id, "kill")
        changed = control.kill(execution.pk, acting_user=acting_user)
        if changed:
            _record("execution.kill_requested", acting_user, execution, request)
    return changed


def resume(execution_id: Any, *, acting_user: Any, inputs: dict[str, Any] | None = None) -> bool:
    """Raises ``input_types.InputsInvalid`` for bad ``onResume`` values (nothing changes)."""
    with transaction.atomic():
        execution, request = _check(acting_user, execution_id, "resume")
        changed = control.resume(execution.pk, inputs=inputs or {}, acting_user=acting_user)
        if changed:
            resumed_with = sorted(inputs or {})
            _record("execution.resume_requested", acting_user, execution, request, inputs=resumed_with)
    return changed


def restart(execution_id: Any, *, acting_user: Any) -> bool:
    with transaction.atomic():
        execution, request = _check(acting_user, execution_id, "restart")
        changed = control.restart(execution.pk, acting_user=acting_user)
        if changed:
            _record("execution.restart_requested", acting_user, execution, request)
    return changed


def replay(execution_id: Any, *, acting_user: Any, from_task_id: str | None = None) -> Execution:
    """A new execution (Kestra's replay); only of a finished one, so two runs never overlap."""
    with transaction.atomic():
        execution, request = _check(acting_user, execution_id, "replay")
        if not execution.is_terminal:
            raise control.ControlError(f"execution {execution.pk} is still {execution.state}")
        new = control.replay(execution.pk, from_task_id or None, acting_user=acting_user)
        _record(
            "execution.replay_requested",
            acting_user,
            execution,
            request,
            replay=str(new.pk),
            from_task=from_task_id,
        )
    return new
