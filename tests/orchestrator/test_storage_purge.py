"""Storage retention (``storage_purge``): real files of real executions, run on the real worker."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from orchestrator.executor import walker
from orchestrator.flowmodel import input_types, spec, storage
from orchestrator.scheduler import storage_purge
from orchestrator.state.models import Execution, State

pytestmark = [pytest.mark.django_db(transaction=True)]

FLOW = """\
id: keeper
namespace: tests.purge
inputs:
  - id: f
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.f) }}"
"""
PAUSING = (
    FLOW
    + """\
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""
)


@pytest.fixture(autouse=True)
def storage_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    settings.PORTICO_STORAGE_RETENTION_DAYS = 30
    return settings.PORTICO_STORAGE_DIR


def local(uri: str) -> Path:
    return storage.root() / storage.path_of(uri).lstrip("/")


def wait_until(execution: Execution, state: State) -> Execution:
    deadline = time.monotonic() + 30
    while Execution.objects.get(pk=execution.pk).state != state:
        assert time.monotonic() < deadline, f"execution never reached {state}"
        time.sleep(0.02)
    execution.refresh_from_db()
    return execution


def run(text: str, data: bytes, state: State) -> Execution:
    """Start ``text`` with a stored FILE input (as ``flow run`` stores it) and wait for ``state``."""
    flow = spec.parse_flow(text, file="t.yml")
    execution_id = uuid.uuid4()
    prefix = storage.execution_prefix(flow.namespace, flow.id, execution_id)
    upload = input_types.FileUpload("a.txt", data)
    values = input_types.resolve_inputs(flow, {"f": upload}, files_prefix=prefix)
    return wait_until(walker.start_execution(flow, values, execution_id=execution_id), state)


def age(execution: Execution, days: int) -> None:
    """Pretend the execution was created (and, if it ended, ended) ``days`` ago."""
    then = timezone.now() - timedelta(days=days)
    Execution.objects.filter(pk=execution.pk).update(created=then, ended=then if execution.ended else None)


def old_upload(data: bytes, days: int) -> str:
    uri = storage.put(storage.upload_prefix("tests.purge", "keeper"), "a.txt", data)
    stamp = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(local(uri), (stamp, stamp))
    os.utime(local(uri).parent, (stamp, stamp))
    return uri


def test_it_deletes_files_of_executions_that_ended_before_the_retention(celery_worker: Any) -> None:
    old = run(FLOW, b"old", State.SUCCESS)
    recent = run(FLOW, b"recent", State.SUCCESS)
    paused = run(PAUSING, b"paused", State.PAUSED)
    age(old, 31)
    age(recent, 29)
    age(paused, 90)

    result = storage_purge.purge()

    assert result == storage_purge.PurgeResult(executions=1, uploads=0)
    assert not local(old.inputs["f"]).exists()
    assert not local(old.inputs["f"]).parent.parent.parent.exists()  # the whole execution folder
    assert local(recent.inputs["f"]).read_bytes() == b"recent"
    assert local(paused.inputs["f"]).read_bytes() == b"paused"


def test_it_keeps_everything_when_the_retention_is_zero(celery_worker: Any, settings: Any) -> None:
    settings.PORTICO_STORAGE_RETENTION_DAYS = 0
    old = run(FLOW, b"old", State.SUCCESS)
    age(old, 3650)
    upload = old_upload(b"forgotten", 3650)

    assert storage_purge.purge() == storage_purge.PurgeResult()
    assert local(old.inputs["f"]).exists()
    assert local(upload).exists()


def test_it_refuses_a_negative_retention(settings: Any) -> None:
    settings.PORTICO_STORAGE_RETENTION_DAYS = -1
    with pytest.raises(ValueError, match="PORTICO_STORAGE_RETENTION_DAYS must be 0"):
        storage_purge.purge()


def test_it_deletes_old_uploads_nobody_uses_and_keeps_the_others(celery_worker: Any) -> None:
    forgotten = old_upload(b"forgotten", 31)
    fresh = old_upload(b"fresh", 1)
    used = old_upload(b"used", 31)
    flow = spec.parse_flow(PAUSING, file="t.yml")
    wait_until(walker.start_execution(flow, {"f": used}), State.PAUSED)

    result = storage_purge.purge()

    assert result == storage_purge.PurgeResult(executions=0, uploads=1)
    assert not local(forgotten).parent.exists()
    assert local(fresh).read_bytes() == b"fresh"
    assert local(used).read_bytes() == b"used"


def test_an_upload_is_kept_while_a_receiver_says_it_is_in_use(settings: Any) -> None:
    held = old_upload(b"held", 31)

    def open_request(sender: Any, uri: str, **kwargs: Any) -> bool:
        return held.startswith(uri + "/")

    storage_purge.upload_in_use.connect(open_request)
    try:
        assert storage_purge.purge() == storage_purge.PurgeResult()
    finally:
        storage_purge.upload_in_use.disconnect(open_request)
    assert local(held).exists()
    assert storage_purge.purge() == storage_purge.PurgeResult(uploads=1)
