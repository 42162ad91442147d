"""Kestra's internal-storage file tasks: ``io.kestra.plugin.core.storage.Write``, ``Concat``, ``Split``,
``Size`` and ``Delete``.

Every file a task reads must be one its execution may read (its own flow's files, or its parent's as a
subflow: ``storage.check_readable``, the rule ``read()`` follows); what it writes goes under its own
task run's folder. Splitting follows Kestra's rule (``orchestrator.flowmodel.storage_split``).
"""

from __future__ import annotations

import json
import uuid
from pathlib import PurePosixPath
from typing import Any

from pydantic import Field, field_validator, model_validator

from orchestrator.flowmodel import storage, storage_split
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import Props
from orchestrator.state.models import TaskRun

_OLD = "io.kestra.core.tasks.storages."


def _taskrun(ctx: RunContext) -> TaskRun:
    return TaskRun.objects.select_related("execution").get(pk=ctx.taskrun_id)


def _readable(taskrun: TaskRun, uri: str) -> str:
    uri = uri.strip()
    try:
        storage.check_readable(taskrun.execution, uri)
    except storage.StorageError as exc:
        raise StepError(str(exc)) from None
    return uri


def _name(extension: str | None) -> str:
    """A fresh file name with ``extension`` (Kestra names its temporary files the same way)."""
    extension = extension or ""
    if extension and not extension.startswith("."):
        extension = f".{extension}"
    return f"{uuid.uuid4().hex}{extension}"


class WriteProps(Props):
    content: str
    extension: str | None = Field(default=None, max_length=32, pattern=r"^\.?[A-Za-z0-9_-]*$")


@register("io.kestra.plugin.core.storage.Write", props=WriteProps)
def run_write(props: WriteProps, ctx: RunContext) -> dict[str, Any]:
    taskrun = _taskrun(ctx)
    uri = storage.put(storage.taskrun_prefix(taskrun), _name(props.extension), props.content.encode())
    return {"uri": uri}


class ConcatProps(Props):
    files: list[str] | str
    separator: str | None = None
    extension: str = Field(default=".tmp", max_length=32, pattern=r"^\.?[A-Za-z0-9_-]*$")

    @field_validator("files", mode="after")
    @classmethod
    def _list(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, str) and "{{" not in value:
            try:
                parsed = json.loads(value)
            except ValueError:
                raise ValueError("must be a list of kestra:/// URIs or a JSON string of one") from None
            if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
                raise ValueError("must be a list of kestra:/// URIs or a JSON string of one")
            return parsed
        return value


@register("io.kestra.plugin.core.storage.Concat", aliases=(_OLD + "Concat",), props=ConcatProps)
def run_concat(props: ConcatProps, ctx: RunContext) -> dict[str, Any]:
    taskrun = _taskrun(ctx)
    files = props.files if isinstance(props.files, list) else json.loads(props.files)
    parts = []
    for uri in files:
        try:
            parts.append(storage.read(taskrun.execution, _readable(taskrun, uri)))
        except storage.StorageError as exc:
            raise StepError(str(exc)) from None
    separator = (props.separator or "").encode()
    data = separator.join(parts) + (separator if parts and separator else b"")
    return {"uri": storage.put(storage.taskrun_prefix(taskrun), _name(props.extension), data)}


class SplitProps(Props):
    from_: str = Field(alias="from")
    bytes: str | None = None
    partitions: int | None = Field(default=None, ge=1)
    rows: int | None = Field(default=None, ge=1)
    separator: str = "\n"

    @field_validator("bytes")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value:
            try:
                storage_split.parse_size(value)
            except storage_split.SplitError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_limit(self) -> SplitProps:
        if self.bytes is None and self.partitions is None and self.rows is None:
            raise ValueError("Invalid configuration with no size, count, nor rows")
        return self


@register("io.kestra.plugin.core.storage.Split", aliases=(_OLD + "Split",), props=SplitProps)
def run_split(props: SplitProps, ctx: RunContext) -> dict[str, Any]:
    """Outputs ``uris``: the pieces, each named with the source file's extension (``.tmp`` without)."""
    taskrun = _taskrun(ctx)
    uri = _readable(taskrun, props.from_)
    try:
        data = storage.read(taskrun.execution, uri)
        pieces = storage_split.split(
            data,
            size=storage_split.parse_size(props.bytes) if props.bytes is not None else None,
            partitions=props.partitions,
            rows=props.rows,
            separator=props.separator.encode(),
        )
    except (storage.StorageError, storage_split.SplitError) as exc:
        raise StepError(str(exc)) from None
    suffix = PurePosixPath(storage.path_of(uri)).suffix or ".tmp"
    prefix = storage.taskrun_prefix(taskrun)
    return {"uris": [storage.put(prefix, _name(suffix), piece) for piece in pieces]}


class UriProps(Props):
    uri: str


@register("io.kestra.plugin.core.storage.Size", aliases=(_OLD + "Size",), props=UriProps)
def run_size(props: UriProps, ctx: RunContext) -> dict[str, Any]:
    uri = _readable(_taskrun(ctx), props.uri)
    try:
        return {"size": storage.size(uri)}
    except storage.StorageError as exc:
        raise StepError(str(exc)) from None


class DeleteProps(UriProps):
    errorOnMissing: bool = False  # noqa: N815 (Kestra's property names)


@register("io.kestra.plugin.core.storage.Delete", aliases=(_OLD + "Delete",), props=DeleteProps)
def run_delete(props: DeleteProps, ctx: RunContext) -> dict[str, Any]:
    uri = _readable(_taskrun(ctx), props.uri)
    deleted = storage.delete(uri)
    if not deleted and props.errorOnMissing:
        raise StepError(f"Unable to find file '{uri}'")
    return {"uri": uri, "deleted": deleted}
