"""Kestra's ``io.kestra.plugin.core.storage`` tasks that move files between a working directory and the
internal storage (``orchestrator.flowmodel.storage``): LocalFiles.

Inside a WorkingDirectory every child sees the same directory (``ctx.working_dir``, set by
``orchestrator.worker.working_directory``); alone, LocalFiles gets a temporary directory of its own, as in
Kestra, which is removed when the task ends.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from orchestrator.flowmodel import storage
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import Props
from orchestrator.state.models import TaskRun


class LocalFilesProps(Props):
    inputs: dict[str, Any] | str | None = None  # file name -> content (or a kestra:/// URI to copy)
    outputs: list[str] | str = Field(default_factory=list)  # glob patterns, relative to the directory

    @field_validator("outputs")
    @classmethod
    def _globs(cls, value: list[str] | str) -> list[str] | str:
        patterns = [value] if isinstance(value, str) else value
        for pattern in patterns:
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(f"'{pattern}' must stay inside the working directory")
        return value


def _input_map(raw: dict[str, Any] | str | None) -> dict[str, Any]:
    """``inputs`` may be rendered from an expression into a JSON object (Kestra allows that too)."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise StepError("inputs must be a map of file name to content") from None
        if not isinstance(raw, dict):
            raise StepError("inputs must be a map of file name to content")
    return raw


def inside(directory: Path, name: str) -> Path:
    """``directory/name``, refusing names that would write outside the directory."""
    target = (directory / name).resolve()
    if directory.resolve() not in target.parents:
        raise StepError(f"file name '{name}' leaves the working directory", permanent=True)
    return target


def write_inputs(directory: Path, files: dict[str, Any], execution: Any) -> None:
    """Write ``name -> content`` into ``directory``; a ``kestra:///`` content is copied from storage."""
    for name, content in files.items():
        target = inside(directory, str(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and storage.is_uri(content.strip()):
            try:
                target.write_bytes(storage.read(execution, content.strip()))
            except storage.StorageError as exc:
                raise StepError(f"input file '{name}': {exc}", permanent=True) from None
        else:
            text = content if isinstance(content, str) else json.dumps(content)
            target.write_text(text, encoding="utf-8")


def upload_matches(directory: Path, patterns: list[str], prefix: str) -> dict[str, str]:
    """Store the files matching the glob ``patterns``; ``{relative path: kestra:/// URI}``."""
    uris: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(directory.glob(pattern)):
            if path.is_file():
                name = path.relative_to(directory).as_posix()
                uris[name] = storage.put_file(prefix, name, path)
    return uris


@register("io.kestra.plugin.core.storage.LocalFiles", props=LocalFilesProps)
def run_local_files(props: LocalFilesProps, ctx: RunContext) -> dict[str, Any]:

    taskrun = TaskRun.objects.select_related("execution").get(pk=ctx.taskrun_id)
    with ExitStack() as stack:
        directory = getattr(ctx, "working_dir", None)
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-files-")))
        write_inputs(directory, _input_map(props.inputs), taskrun.execution)
        patterns = [props.outputs] if isinstance(props.outputs, str) else list(props.outputs)
        return {"uris": upload_matches(directory, patterns, storage.taskrun_prefix(taskrun))}
