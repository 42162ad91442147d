"""Executions: get, follow (long-poll), logs with a cursor, and the operator actions of
``portal.executions.services`` (kill, resume, restart, replay: its permission rule, its audit)."""

from __future__ import annotations

import time
import uuid

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from orchestrator.state.models import Execution
from portal.executions import selectors, services

from .. import present
from ..auth import caller, require
from ..errors import ERRORS, ApiError, ErrorOut
from ..schemas import ControlOut, ExecutionOut, LogsOut, ReplayIn, ResumeIn

router = Router(tags=["executions"])
FOLLOW_MAX_SECONDS = 25
_POLL_SECONDS = 0.2


def get_execution(request: HttpRequest, pk: uuid.UUID, verb: str) -> tuple[Execution, int | None]:
    """An execution the caller may see (``executions.selectors``), in the token's namespaces; 404 else."""
    user = require(request, verb)
    execution, req = selectors.get_visible_execution(user, pk)
    require(request, verb, execution.namespace)
    return execution, (req.pk if req is not None else None)


class FollowParams(Schema):
    state: str | None = Field(None, max_length=32, description="the state the caller last saw")
    timeout: int = Field(20, ge=0, le=FOLLOW_MAX_SECONDS, description="seconds to wait at most")


class LogParams(Schema):
    after: int | None = Field(None, ge=0, le=2**62, description="the cursor of the previous answer")
    level: str | None = Field(None, max_length=16, description="TRACE, DEBUG, INFO, WARN or ERROR and above")
    task: str | None = Field(None, max_length=255, description="only this task's lines")


@router.get("/executions/{execution_id}", response={200: ExecutionOut, ERRORS: ErrorOut})
def get_execution_detail(request: HttpRequest, execution_id: uuid.UUID):
    execution, request_id = get_execution(request, execution_id, "read")
    return present.execution(execution, request_id)


@router.get("/executions/{execution_id}/follow", response={200: ExecutionOut, ERRORS: ErrorOut})
def follow(request: HttpRequest, execution_id: uuid.UUID, params: Query[FollowParams]):
    """Long-poll: answers as soon as the state differs from ``state`` (at once without it), when the
    execution has ended, or after ``timeout`` seconds with the state unchanged."""
    execution, request_id = get_execution(request, execution_id, "read")
    deadline = time.monotonic() + params.timeout
    while params.state and execution.state == params.state and not execution.is_terminal:
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
        execution.refresh_from_db(fields=["state"])
    return present.execution(execution, request_id)


@router.get("/executions/{execution_id}/logs", response={200: LogsOut, ERRORS: ErrorOut})
def logs(request: HttpRequest, execution_id: uuid.UUID, params: Query[LogParams]):
    """Masked log lines: the latest ones, or those after the cursor ``after`` (oldest first). The
    execution's ``terminal`` is read before the lines, so a terminal answer holds its last lines."""
    execution, _ = get_execution(request, execution_id, "read")
    execution.refresh_from_db(fields=["state"])
    terminal = execution.is_terminal
    lines = selectors.log_lines(
        execution, level=params.level or "", after=params.after, task=params.task or ""
    )
    cursor = lines[-1].pk if lines else params.after
    return {"items": [present.log_line(line) for line in lines], "cursor": cursor, "terminal": terminal}


def _control(request: HttpRequest, execution_id: uuid.UUID, action: str, **kwargs) -> dict:  # noqa: ANN003
    execution, request_id = get_execution(request, execution_id, "operate")
    changed = getattr(services, action)(execution.pk, acting_user=caller(request).user, **kwargs)
    return {"changed": changed, "execution": present.execution(execution, request_id)}


@router.post("/executions/{execution_id}/kill", response={200: ControlOut, ERRORS: ErrorOut})
def kill(request: HttpRequest, execution_id: uuid.UUID):
    return _control(request, execution_id, "kill")


@router.post("/executions/{execution_id}/resume", response={200: ControlOut, ERRORS: ErrorOut})
def resume(request: HttpRequest, execution_id: uuid.UUID, payload: ResumeIn):
    return _control(request, execution_id, "resume", inputs=payload.inputs)


@router.post("/executions/{execution_id}/restart", response={200: ControlOut, ERRORS: ErrorOut})
def restart(request: HttpRequest, execution_id: uuid.UUID):
    return _control(request, execution_id, "restart")


@router.post("/executions/{execution_id}/replay", response={201: ExecutionOut, ERRORS: ErrorOut})
def replay(request: HttpRequest, execution_id: uuid.UUID, payload: ReplayIn):
    """A new execution from ``from_task_id`` (or the start); only of a finished one."""
    execution, request_id = get_execution(request, execution_id, "operate")
    if payload.from_task_id and payload.from_task_id not in selectors.replay_choices(
        selectors.flow_of(execution)
    ):
        raise ApiError(422, "invalid replay", {"from_task_id": "not a task of this flow"})
    new = services.replay(execution.pk, acting_user=caller(request).user, from_task_id=payload.from_task_id)
    return Status(201, present.execution(new, request_id))
