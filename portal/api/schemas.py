"""What the API reads and answers: one pydantic schema per shape, which is also the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from ninja import Field, Schema
from ninja import Path as PathParam
from pydantic import BaseModel

T = TypeVar("T")

MAX_COMMENT = 2000
FLOW_REF = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$"  # namespace.flow_id: the flow id is after the last dot
MAX_NAME = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    count: int
    page: int
    per_page: int
    next_page: int | None


# --- flows -------------------------------------------------------------------------------------------


class FlowInputOut(Schema):
    id: str
    type: str
    label: str
    required: bool
    description: str | None
    defaults: Any = None
    values: list[Any] | None = None


class FlowOut(Schema):
    namespace: str
    id: str
    title: str
    description: str
    revision: str
    labels: dict[str, Any]
    needs_approval: bool
    inputs: list[FlowInputOut]


class FlowDetailOut(FlowOut):
    source: str


class FlowSourceIn(Schema):
    source: str = Field(..., max_length=1_000_000)


class FlowProblemOut(Schema):
    line: int
    path: str
    message: str
    not_supported: bool


class FlowValidationOut(Schema):
    valid: bool
    namespace: str | None
    id: str | None
    errors: list[FlowProblemOut]
    warnings: list[FlowProblemOut]


class InputsIn(Schema):
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=200)


class InputsValidationOut(Schema):
    valid: bool
    fields: dict[str, str]


# --- requests and approvals --------------------------------------------------------------------------


class RequestIn(Schema):
    flow: str = Field(..., max_length=401, pattern=FLOW_REF, description="namespace.flow_id")
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=200)
    cost_center: str | None = Field(None, max_length=32, description="code; default: your own")


class RequestOut(Schema):
    id: int
    flow: str
    namespace: str
    flow_id: str
    flow_revision: str
    flow_commit: str = Field(description="the Git commit the flow came from; empty for the flows directory")
    state: str
    requester: str
    cost_center: str
    inputs: dict[str, Any] = Field(description="non-secret inputs; SECRET ones are never returned")
    execution_id: str | None
    created: datetime
    decided_at: datetime | None
    finished_at: datetime | None


class CommentIn(Schema):
    comment: str = Field("", max_length=MAX_COMMENT)


# --- executions --------------------------------------------------------------------------------------


class TaskRunOut(Schema):
    id: str
    task_id: str
    parent_id: str | None
    value: Any = None
    state: str
    attempts: int


class ExecutionOut(Schema):
    id: str
    namespace: str
    flow_id: str
    state: str
    terminal: bool
    request_id: int | None
    parent_id: str | None
    original_id: str | None
    created: datetime
    started: datetime | None
    ended: datetime | None
    outputs: dict[str, Any]
    task_runs: list[TaskRunOut]


class LogLineOut(Schema):
    id: int
    timestamp: datetime
    level: str
    task_id: str | None
    message: str


class LogsOut(Schema):
    items: list[LogLineOut]
    cursor: int | None = Field(description="pass as ?after= to get the lines after these")
    terminal: bool


class ResumeIn(Schema):
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=200)


class ReplayIn(Schema):
    from_task_id: str | None = Field(None, max_length=255)


class ControlOut(Schema):
    changed: bool
    execution: ExecutionOut


# --- resources ---------------------------------------------------------------------------------------


class ResourceOut(Schema):
    id: int
    kind: str
    name: str
    namespace: str
    state: str
    provider_id: str
    ipv4: str | None
    ipv6: str
    owner: str
    cost_center: str
    request_id: int
    actions: list[str]
    monthly_cost: str
    hourly_cost: str
    created: datetime
    expires_at: datetime | None
    destroyed_at: datetime | None


class ActionIn(Schema):
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=50)


# --- audit -------------------------------------------------------------------------------------------


class AuditEventOut(Schema):
    id: int
    created: datetime
    actor: str
    verb: str
    target_type: str
    target_id: str
    flow: str
    cost_center: str | None
    details: dict[str, Any]
    hash: str


# --- tokens and the caller ---------------------------------------------------------------------------


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=MAX_NAME)
    namespaces: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=20)
    verbs: list[str] = Field(default_factory=lambda: ["read"], min_length=1, max_length=4)
    expires_in_days: int = Field(30, ge=1, le=365)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    namespaces: list[str]
    verbs: list[str]
    created: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the token itself: shown this once, never stored")


class MeOut(Schema):
    username: str
    requester: bool
    approver: bool
    token: TokenOut | None


# A row's id in a path: bounded, so a huge number is a 400 and never reaches the database (SQLite's
# integers are 64-bit).
RowId = Annotated[int, PathParam(..., ge=1, le=2**62)]
