"""Files: internal storage, FILE inputs (CLI and ``read()``), LocalFiles, WorkingDirectory on one worker,
ForEachItem. Flows run on the real in-process Celery worker against the test database."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.executor import control, walker
from orchestrator.flowmodel import flow_repository, input_types, spec, storage
from orchestrator.state.models import Execution, State, TaskRun

from ..conftest import wait_for
from .test_cli import database_url, manage


@pytest.fixture(autouse=True)
def storage_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    return settings.PORTICO_STORAGE_DIR


def start(text: str, raw: dict[str, Any] | None = None, timeout: float = 30.0) -> Execution:
    """Like ``run_flow``, but uploads (``input_types.FileUpload``) are stored as ``flow run`` stores them."""
    flow = spec.parse_flow(text, file="test.yml")
    execution_id = uuid.uuid4()
    prefix = storage.execution_prefix(flow.namespace, flow.id, execution_id)
    values = input_types.resolve_inputs(flow, raw or {}, files_prefix=prefix)
    return wait_for(walker.start_execution(flow, values, execution_id=execution_id), timeout)


def runs(execution: Execution, task_id: str) -> list[TaskRun]:
    return list(execution.task_runs.filter(task_id=task_id).order_by("created"))


READ_BACK = """\
id: read-back
namespace: tests.files
inputs:
  - id: f
    type: FILE
    allowedFileExtensions: [".txt"]
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.f) }}"
"""


# --- storage -----------------------------------------------------------------------------------------


def test_it_stores_bytes_under_a_kestra_uri_in_the_data_directory(storage_dir: Path) -> None:
    uri = storage.put("/tests/files/f/executions/e1", "inputs/f/a.txt", b"hello")

    assert uri == "kestra:///tests/files/f/executions/e1/inputs/f/a.txt"
    assert (storage_dir / "tests/files/f/executions/e1/inputs/f/a.txt").read_bytes() == b"hello"
    assert storage.get(uri) == b"hello"


@pytest.mark.parametrize(
    "uri",
    ["kestra:///../../etc/passwd", "kestra:///a/./b", "kestra:///a/../../b", "file:///etc/passwd", "/etc/x"],
)
def test_it_refuses_uris_that_leave_the_storage(uri: str) -> None:
    with pytest.raises(storage.StorageError):
        storage.get(uri)


def test_it_refuses_a_name_that_climbs_out_of_its_folder() -> None:
    with pytest.raises(storage.StorageError, match="invalid storage path segment"):
        storage.put("/tests/files/f", "../../outside.txt", b"x")


def test_it_lets_an_execution_read_only_files_of_its_own_flow_or_its_parent() -> None:
    own = storage.put(storage.execution_prefix("tests.files", "mine", "e1"), "a.txt", b"mine")
    other = storage.put(storage.execution_prefix("tests.files", "other", "e2"), "b.txt", b"theirs")
    reader = Execution(namespace="tests.files", flow_id="mine")
    child = Execution(
        namespace="tests.sub",
        flow_id="child",
        parent_id=uuid.uuid4(),
        trigger={"namespace": "tests.files", "flowId": "other", "executionId": "e2"},
    )

    assert storage.read(reader, own) == b"mine"
    with pytest.raises(storage.StorageError, match="belongs to another flow"):
        storage.read(reader, other)
    assert storage.read(child, other) == b"theirs"  # a subflow reads what its parent hands down


# --- FILE inputs -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_stores_an_uploaded_file_input_and_reads_it_in_a_template(celery_worker: Any) -> None:
    execution = start(READ_BACK, {"f": input_types.FileUpload("notes.txt", b"line one\nline two\n")})

    assert execution.state == State.SUCCESS
    uri = execution.inputs["f"]
    assert uri == f"kestra:///tests/files/read-back/executions/{execution.pk}/inputs/f/notes.txt"
    assert runs(execution, "show")[0].outputs == {"value": "line one\nline two\n"}


def test_it_refuses_a_file_with_an_extension_not_allowed() -> None:
    flow = spec.parse_flow(READ_BACK, file="t.yml")
    with pytest.raises(input_types.InputsInvalid) as caught:
        upload = input_types.FileUpload("evil.sh", b"x")
        input_types.resolve_inputs(flow, {"f": upload}, files_prefix="/tests/x")
    assert caught.value.errors == {"f": "must be a file ending in .txt"}


def test_it_refuses_a_file_larger_than_the_setting(settings: Any) -> None:
    settings.PORTICO_MAX_UPLOAD_BYTES = 4
    flow = spec.parse_flow(READ_BACK, file="t.yml")
    with pytest.raises(input_types.InputsInvalid, match="larger than"):
        upload = input_types.FileUpload("a.txt", b"12345")
        input_types.resolve_inputs(flow, {"f": upload}, files_prefix="/tests/x")


def test_it_refuses_a_plain_string_for_a_file_input() -> None:
    flow = spec.parse_flow(READ_BACK, file="t.yml")
    with pytest.raises(input_types.InputsInvalid, match="internal storage URI"):
        input_types.resolve_inputs(flow, {"f": "/tmp/notes.txt"})


@pytest.mark.django_db(transaction=True)
def test_it_fails_a_task_reading_a_file_of_another_flow(celery_worker: Any) -> None:
    foreign = storage.put(storage.execution_prefix("tests.other", "secret", "e1"), "s.txt", b"no")
    execution = start(
        "id: nosy\nnamespace: tests.files\ntasks:\n  - id: peek\n"
        f"    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read('{foreign}') }}}}\"\n"
    )

    assert execution.state == State.FAILED
    assert "belongs to another flow" in runs(execution, "peek")[0].error


@pytest.mark.django_db(transaction=True)
def test_the_cli_uploads_a_file_given_with_an_at_sign(tmp_path: Path, redis_url: str) -> None:
    env = {
        "PORTICO_DATA_DIR": str(tmp_path / "data"),
        "PORTICO_QUEUE": f"cli-{uuid.uuid4().hex[:10]}",
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url(),
    }
    (tmp_path / "read-back.yml").write_text(READ_BACK)
    (tmp_path / "notes.txt").write_text("from the CLI\n")

    ok = manage(
        "flow", "run", str(tmp_path / "read-back.yml"), "-i", f"f=@{tmp_path}/notes.txt", "--json", env=env
    )
    plain = manage("flow", "run", str(tmp_path / "read-back.yml"), "-i", f"f={tmp_path}/notes.txt", env=env)
    missing = manage("flow", "run", str(tmp_path / "read-back.yml"), "-i", "f=@/nonexistent.txt", env=env)

    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["taskRuns"][0]["outputs"] == {"value": "from the CLI\n"}
    stored = tmp_path / "data/storage/tests/files/read-back/executions" / data["id"] / "inputs/f/notes.txt"
    assert stored.read_text() == "from the CLI\n"
    assert (
        plain.returncode == 1
        and "input 'f': must be a file upload or an internal storage URI" in plain.stderr
    )
    assert missing.returncode == 2 and "cannot read '/nonexistent.txt'" in missing.stderr


# --- LocalFiles and WorkingDirectory -----------------------------------------------------------------

SHARED_DIRECTORY = """\
id: shared-dir
namespace: tests.files
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      given.txt: "from the directory"
    tasks:
      - id: write
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          out/made.txt: "{{ taskrun.id }}"
      - id: collect
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - "*.txt"
          - out/*
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.collect.uris['out/made.txt']) }}"
"""


def _wd_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("portico-wd-*"))


@pytest.mark.django_db(transaction=True)
def test_working_directory_children_share_one_directory_on_one_worker(celery_worker: Any) -> None:
    before = _wd_dirs()
    execution = start(SHARED_DIRECTORY)

    assert execution.state == State.SUCCESS
    wd, write, collect = runs(execution, "wd")[0], runs(execution, "write")[0], runs(execution, "collect")[0]
    assert write.parent_id == wd.pk and collect.parent_id == wd.pk
    assert sorted(collect.outputs["uris"]) == ["given.txt", "out/made.txt"]
    assert storage.get(collect.outputs["uris"]["given.txt"]) == b"from the directory"
    # The second child found the file the first one wrote, and the task after the directory reads it.
    assert runs(execution, "after")[0].outputs == {"value": str(write.pk)}
    # Only the WorkingDirectory went through the broker; its children ran inline in that delivery.
    assert wd.worker_task_id and wd.attempts == 1
    assert write.worker_task_id == "" and collect.worker_task_id == ""
    assert [r.state for r in (write, collect)] == [State.SUCCESS, State.SUCCESS]
    assert _wd_dirs() <= before  # the temporary directory is gone


@pytest.mark.django_db(transaction=True)
def test_working_directory_stops_at_a_failure_and_runs_errors(celery_worker: Any) -> None:
    execution = start("""\
id: wd-fails
namespace: tests.files
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: x
    errors:
      - id: handled
        type: io.kestra.plugin.core.debug.Return
        format: cleanup
""")

    assert execution.state == State.FAILED
    assert runs(execution, "boom")[0].state == State.FAILED
    assert runs(execution, "never") == []
    assert runs(execution, "handled")[0].outputs == {"value": "cleanup"}


@pytest.mark.django_db(transaction=True)
def test_working_directory_cache_restores_files_on_the_next_run(celery_worker: Any) -> None:
    text = """\
id: cached
namespace: tests.files
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    cache:
      ttl: PT5M
      patterns: ["*.txt"]
    tasks:
      - id: exists
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs: ["*.txt"]
      - id: make
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: HELLO
"""
    first, second = start(text), start(text)

    assert runs(first, "exists")[0].outputs == {"uris": {}}
    assert list(runs(second, "exists")[0].outputs["uris"]) == ["hello.txt"]


@pytest.mark.django_db(transaction=True)
def test_local_files_alone_gets_a_directory_of_its_own(celery_worker: Any) -> None:
    execution = start("""\
id: alone
namespace: tests.files
tasks:
  - id: files
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      a.csv: "1,2"
    outputs: ["*.csv"]
""")

    uri = runs(execution, "files")[0].outputs["uris"]["a.csv"]
    assert storage.get(uri) == b"1,2"
    assert uri.startswith(f"kestra:///tests/files/alone/executions/{execution.pk}/tasks/files/")


def test_local_files_refuses_output_patterns_outside_the_directory() -> None:
    with pytest.raises(spec.FlowValidationError, match="must stay inside the working directory"):
        spec.parse_flow(
            "id: x\nnamespace: t\ntasks:\n  - id: f\n    type: io.kestra.plugin.core.storage.LocalFiles\n"
            "    outputs: ['../*']\n",
            file="x.yml",
        )


# --- ForEachItem ---------------------------------------------------------------------------------------

CHILDREN = {
    "echo": """\
id: echo
namespace: tests.sub
inputs:
  - id: items
    type: STRING
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.items) }}"
outputs:
  - id: lines
    value: "{{ outputs.show.value }}"
    type: STRING
""",
    "fails": """\
id: fails
namespace: tests.sub
inputs:
  - id: items
    type: STRING
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
""",
}


def for_each_item(flow_id: str, rows: int = 4) -> str:
    return f"""\
id: fan-out
namespace: tests.files
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch:
      rows: {rows}
    namespace: tests.sub
    flowId: {flow_id}
    inputs:
      items: "{{{{ taskrun.items }}}}"
"""


@pytest.fixture
def children() -> Iterator[None]:
    def lookup(namespace: str, flow_id: str) -> spec.Flow | None:
        text = CHILDREN.get(flow_id) if namespace == "tests.sub" else None
        return spec.parse_flow(text, file=f"{flow_id}.yml") if text else None

    flow_repository.register(lookup)
    yield
    flow_repository.unregister(lookup)


LINES = b"".join(f"line {n}\n".encode() for n in range(10))


@pytest.mark.django_db(transaction=True)
def test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs(
    celery_worker: Any, children: None
) -> None:
    execution = start(for_each_item("echo"), {"file": input_types.FileUpload("items.txt", LINES)}, timeout=60)

    assert execution.state == State.SUCCESS
    each = runs(execution, "each")[0]
    split, items, merge = (runs(execution, f"each_{s}")[0] for s in ("split", "items", "merge"))
    assert {split.parent_id, items.parent_id, merge.parent_id} == {each.pk}
    assert items.outputs == {"numberOfBatches": 3, "iterations": {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}}
    subs = list(Execution.objects.filter(parent_taskrun=items).order_by("created"))
    assert [storage.get(s.inputs["items"]).decode() for s in subs] == [
        "line 0\nline 1\nline 2\nline 3\n",
        "line 4\nline 5\nline 6\nline 7\n",
        "line 8\nline 9\n",
    ]
    merged = storage.get(merge.outputs["subflowOutputs"]).decode().splitlines()
    assert [json.loads(line)["lines"] for line in merged] == [
        storage.get(s.inputs["items"]).decode() for s in subs
    ]


@pytest.mark.django_db(transaction=True)
def test_for_each_item_fails_when_sub_executions_fail(celery_worker: Any, children: None) -> None:
    upload = input_types.FileUpload("i.txt", LINES)
    execution = start(for_each_item("fails", rows=5), {"file": upload}, timeout=60)

    assert execution.state == State.FAILED
    items = runs(execution, "each_items")[0]
    assert items.state == State.FAILED
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "FAILED": 2}
    assert runs(execution, "each_merge") == []


@pytest.mark.django_db(transaction=True)
def test_for_each_item_with_an_empty_file_starts_nothing(celery_worker: Any, children: None) -> None:
    execution = start(for_each_item("echo"), {"file": input_types.FileUpload("empty.txt", b"")})

    assert execution.state == State.SUCCESS
    assert runs(execution, "each_items")[0].outputs == {}
    assert not Execution.objects.filter(parent__isnull=False).exists()


@pytest.mark.parametrize(
    ("rows", "size", "partitions", "expected"),
    [
        (2, None, None, [b"a\nb\n", b"c\n"]),
        (None, 4, None, [b"a\nb\n", b"c\n"]),
        (None, None, 2, [b"a\nb\n", b"c\n"]),
        (1, None, None, [b"a\n", b"b\n", b"c\n"]),
    ],
)
def test_for_each_item_splits_by_rows_bytes_or_partitions(
    rows: Any, size: Any, partitions: Any, expected: Any
) -> None:
    from orchestrator.executor.for_each_item import split_lines

    assert split_lines(b"a\nb\nc\n", rows, size, partitions) == expected


SLEEPY_DIRECTORY = """\
id: sleepy-dir
namespace: tests.files
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    {timeout}
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT30S
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: x
"""


def _running(execution: Execution, task_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not execution.task_runs.filter(task_id=task_id, state=State.RUNNING).exists():
        assert time.monotonic() < deadline, f"{task_id} never started"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_killing_stops_the_child_at_work_in_a_working_directory(celery_worker: Any) -> None:
    flow = spec.parse_flow(SLEEPY_DIRECTORY.format(timeout=""), file="t.yml")
    execution = walker.start_execution(flow, {})
    _running(execution, "nap")
    started = time.monotonic()

    control.kill(execution.pk)
    execution = wait_for(execution, 10)

    assert execution.state == State.KILLED and time.monotonic() - started < 5
    assert runs(execution, "nap")[0].state == State.KILLED
    assert runs(execution, "wd")[0].state == State.KILLED
    assert runs(execution, "never") == []


@pytest.mark.django_db(transaction=True)
def test_a_working_directory_timeout_stops_its_children(celery_worker: Any) -> None:
    execution = start(SLEEPY_DIRECTORY.format(timeout="timeout: PT1S"), timeout=15)

    assert execution.state == State.FAILED
    assert runs(execution, "nap")[0].state == State.FAILED
    assert runs(execution, "wd")[0].state == State.FAILED
    assert runs(execution, "never") == []
