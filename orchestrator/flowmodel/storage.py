"""Internal storage: files of executions under the data directory, named by Kestra-style URIs.

A stored file is ``kestra:///<namespace as folders>/<flow id>/<kind>/<id>/...`` (e.g.
``kestra:///io/kestra/tests/inputs/executions/<execution id>/inputs/file/data.csv``), kept at the same
relative path below ``settings.PORTICO_STORAGE_DIR``. URIs travel through inputs, outputs and templates
as plain strings; only this module turns one into a path, and it refuses anything that would leave the
storage root (``..``, absolute segments, symlinks pointing out).

Who may read what: an execution reads files of its own flow (any of its executions, its uploads) and,
as a subflow, files of the flow that started it (ForEachItem hands batch files down). Kestra draws the
same line for its ``read()`` function.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from django.conf import settings

from orchestrator.flowmodel import namespace_files
from orchestrator.flowmodel.pebble import PebbleError


class Execution(Protocol):
    """What storage reads of an execution (the state layer's model satisfies it)."""

    pk: Any
    namespace: str
    flow_id: str
    parent_id: Any
    trigger: dict[str, Any] | None


class TaskRun(Protocol):
    """What storage reads of a task run."""

    pk: Any
    task_id: str
    execution: Execution

SCHEME = "kestra://"
_SEGMENT = re.compile(r"[^/\x00]+")


class StorageError(ValueError):
    """A URI that is malformed, outside the storage, missing, or not readable by the caller."""


def root() -> Path:
    return Path(settings.PORTICO_STORAGE_DIR)


def _clean(relative: str) -> PurePosixPath:
    """A relative storage path with no empty, ``.`` or ``..`` segment (path traversal is refused)."""
    parts = [p for p in relative.split("/") if p != ""]
    if not parts:
        raise StorageError("empty storage path")
    for part in parts:
        if part in (".", "..") or not _SEGMENT.fullmatch(part) or "\\" in part:
            raise StorageError(f"invalid storage path segment {part!r}")
    return PurePosixPath(*parts)


def slug(text: str) -> str:
    """Kestra's ``Slugify.of``, which it applies to flow and task ids in storage paths: whitespace to
    ``-``, accents stripped, anything but letters, digits, ``_`` and ``-`` dropped, ``_`` to ``-``,
    runs of ``-`` collapsed and trimmed, lower case. ``each_split`` is stored as ``each-split``."""
    text = re.sub(r"\s", "-", text)
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"[^\w-]", "", text, flags=re.ASCII).replace("_", "-")
    text = re.sub(r"-{2,}", "-", text).strip("-")
    return text.lower()


def flow_prefix(namespace: str, flow_id: str) -> str:
    """``/io/kestra/tests/<flow>``: Kestra stores a namespace as nested folders."""
    return "/" + str(_clean("/".join([*namespace.split("."), slug(flow_id)])))


def execution_prefix(namespace: str, flow_id: str, execution_id: Any) -> str:
    return f"{flow_prefix(namespace, flow_id)}/executions/{execution_id}"


def upload_prefix(namespace: str, flow_id: str) -> str:
    """A fresh folder for files uploaded with a portal request, before any execution exists; the
    execution started on approval reads them as files of its own flow."""
    return f"{flow_prefix(namespace, flow_id)}/uploads/{uuid.uuid4()}"


def taskrun_prefix(taskrun: TaskRun) -> str:
    """Where a task run's output files go: ``.../executions/<id>/tasks/<task id>/<run id>``."""
    execution = taskrun.execution
    base = execution_prefix(execution.namespace, execution.flow_id, execution.pk)
    return f"{base}/tasks/{slug(taskrun.task_id)}/{taskrun.pk}"


def uri_of(path: str) -> str:
    return SCHEME + "/" + str(_clean(path))


def path_of(uri: str) -> str:
    """``kestra:///a/b`` -> ``/a/b`` (validated); anything else is a ``StorageError``."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME + "/"):
        raise StorageError(f"not an internal storage URI (kestra:///...): {uri!r}")
    return "/" + str(_clean(uri[len(SCHEME) :]))


def is_uri(value: Any) -> bool:
    try:
        path_of(value)
    except StorageError:
        return False
    return True


def local_path(uri: str) -> Path:
    """The file behind ``uri``; refuses anything that would leave the storage root."""
    base = root().resolve()
    local = (base / path_of(uri).lstrip("/")).resolve()
    if local != base and base not in local.parents:
        raise StorageError(f"{uri} points outside the storage")
    return local


def put(prefix: str, name: str, data: bytes) -> str:
    """Store ``data`` as ``<prefix>/<name>`` (``name`` may hold sub-folders); its URI."""
    uri = uri_of(f"{prefix}/{name}")
    local = local_path(uri)
    local.parent.mkdir(parents=True, exist_ok=True)
    temporary = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(data)
    temporary.replace(local)  # readers never see half a file
    return uri


def put_file(prefix: str, name: str, source: Path) -> str:
    return put(prefix, name, Path(source).read_bytes())


def exists(uri: str) -> bool:
    try:
        return local_path(uri).is_file()
    except StorageError:
        return False


def size(uri: str) -> int:
    """The stored file's size in bytes (``StorageError`` when there is none)."""
    try:
        return local_path(uri).stat().st_size
    except FileNotFoundError:
        raise StorageError(f"{uri} does not exist") from None


def delete(uri: str) -> bool:
    """Remove the stored file; False when there was none."""
    try:
        local_path(uri).unlink()
    except FileNotFoundError:
        return False
    return True


def modified(uri: str) -> datetime:
    """When ``uri`` was last written (a cache's age)."""
    return datetime.fromtimestamp(local_path(uri).stat().st_mtime, tz=UTC)


def get(uri: str) -> bytes:
    """The bytes behind ``uri`` without an access check: callers that act for an execution use ``read``."""
    local = local_path(uri)
    if not local.is_file():
        raise StorageError(f"no such file in the storage: {uri}")
    return local.read_bytes()


def readable_prefixes(execution: Execution) -> list[str]:
    prefixes = [flow_prefix(execution.namespace, execution.flow_id)]
    trigger = execution.trigger or {}
    if execution.parent_id and trigger.get("namespace") and trigger.get("flowId"):
        prefixes.append(flow_prefix(str(trigger["namespace"]), str(trigger["flowId"])))
    return prefixes


def check_readable(execution: Execution, uri: str) -> None:
    path = path_of(uri)
    if not any(path.startswith(prefix + "/") for prefix in readable_prefixes(execution)):
        raise StorageError(
            f"{uri} belongs to another flow; {execution.namespace}.{execution.flow_id} cannot read it"
        )


def read(execution: Execution, uri: str) -> bytes:
    """The bytes of ``uri`` as ``execution`` may read them (see the module docstring)."""
    check_readable(execution, uri)
    return get(uri)


def read_text(execution: Execution, uri: str) -> str:
    return read(execution, uri).decode("utf-8")


def reader(execution: Execution) -> Any:
    """Kestra's template function ``read(...)`` bound to one execution: a ``kestra:///`` URI is a stored
    file it may read, anything else a file of its namespace (``namespace_files``). Errors become
    template errors."""

    def read_function(uri: Any) -> str:
        try:
            if is_uri(str(uri)):
                return read_text(execution, str(uri))
            return namespace_files.read_text(execution.namespace, str(uri))
        except (StorageError, namespace_files.NamespaceFileError, OSError, UnicodeDecodeError) as exc:
            raise PebbleError(f"read({uri!r}): {exc}") from None

    return read_function
