"""Kestra's storage tasks (Write, Concat, Split, Size, Delete) and the split rule they share."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.flowmodel import spec, storage, storage_split
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import Execution, State


def outputs(execution: Execution) -> dict[str, dict[str, Any]]:
    return {run.task_id: run.outputs for run in execution.task_runs.all()}


@pytest.mark.parametrize(
    "limits, pieces",
    [
        ({"rows": 2}, [b"a\nb\n", b"c\nd\n", b"e\n"]),
        ({"partitions": 2}, [b"a\nc\ne\n", b"b\nd\n"]),  # round-robin, as Kestra deals them
        ({"partitions": 9}, [b"a\n", b"b\n", b"c\n", b"d\n", b"e\n"]),  # empty pieces dropped
        ({"size": 4}, [b"a\nb\n", b"c\nd\n", b"e\n"]),  # a new piece once one holds >= 4 bytes
        ({"size": 3}, [b"a\nb\n", b"c\nd\n", b"e\n"]),  # may pass the size by its last row
    ],
)
def test_the_split_rule_follows_kestra(limits: dict[str, int], pieces: list[bytes]) -> None:
    assert storage_split.split(b"a\nb\r\nc\nd\ne", **limits) == pieces


def test_the_split_rule_reads_sizes_and_refuses_nonsense() -> None:
    assert storage_split.parse_size("10MB") == 10 * 1024 * 1024
    assert storage_split.parse_size("512") == 512
    with pytest.raises(storage_split.SplitError):
        storage_split.parse_size("lots")
    with pytest.raises(storage_split.SplitError):
        storage_split.split(b"a\n")
    assert storage_split.split(b"a|b", rows=1, separator=b";") == [b"a|b;"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_writes_concatenates_splits_sizes_and_deletes(run_flow: Any) -> None:
    execution = run_flow(
        "id: files\nnamespace: tests\ntasks:\n"
        "  - id: one\n    type: io.kestra.plugin.core.storage.Write\n    content: \"a\\nb\\n\"\n"
        "    extension: .csv\n"
        "  - id: two\n    type: io.kestra.plugin.core.storage.Write\n    content: \"c\\nd\\ne\\n\"\n"
        "  - id: both\n    type: io.kestra.plugin.core.storage.Concat\n"
        "    files: ['{{ outputs.one.uri }}', '{{ outputs.two.uri }}']\n    extension: .csv\n"
        "  - id: pieces\n    type: io.kestra.plugin.core.storage.Split\n"
        "    from: '{{ outputs.both.uri }}'\n    rows: 2\n"
        "  - id: size\n    type: io.kestra.plugin.core.storage.Size\n    uri: '{{ outputs.both.uri }}'\n"
        "  - id: drop\n    type: io.kestra.plugin.core.storage.Delete\n    uri: '{{ outputs.one.uri }}'\n"
        "  - id: again\n    type: io.kestra.plugin.core.storage.Delete\n    uri: '{{ outputs.one.uri }}'\n"
    )

    assert execution.state == State.SUCCESS
    out = outputs(execution)
    assert out["one"]["uri"].endswith(".csv")
    assert storage.read(execution, out["both"]["uri"]) == b"a\nb\nc\nd\ne\n"
    assert [storage.read(execution, uri) for uri in out["pieces"]["uris"]] == [b"a\nb\n", b"c\nd\n", b"e\n"]
    assert all(uri.endswith(".csv") for uri in out["pieces"]["uris"])
    assert out["size"] == {"size": 10}
    assert (out["drop"]["deleted"], out["again"]["deleted"]) == (True, False)
    assert not storage.exists(out["one"]["uri"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_splits_by_bytes_with_a_separator(run_flow: Any) -> None:
    execution = run_flow(
        "id: files\nnamespace: tests\ntasks:\n"
        "  - id: one\n    type: io.kestra.plugin.core.storage.Write\n    content: \"aa\\nbb\\ncc\\n\"\n"
        "  - id: pieces\n    type: io.kestra.plugin.core.storage.Split\n"
        "    from: '{{ outputs.one.uri }}'\n    bytes: 5B\n    separator: ';'\n"
    )

    assert execution.state == State.SUCCESS
    uris = outputs(execution)["pieces"]["uris"]
    assert [storage.read(execution, uri) for uri in uris] == [b"aa;bb;", b"cc;"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_concatenates_with_a_separator_from_a_json_list(run_flow: Any) -> None:
    execution = run_flow(
        "id: files\nnamespace: tests\ntasks:\n"
        "  - id: one\n    type: io.kestra.plugin.core.storage.Write\n    content: x\n"
        "  - id: two\n    type: io.kestra.plugin.core.storage.Write\n    content: y\n"
        "  - id: both\n    type: io.kestra.plugin.core.storage.Concat\n"
        "    files: '[\"{{ outputs.one.uri }}\", \"{{ outputs.two.uri }}\"]'\n    separator: '|'\n"
    )

    assert execution.state == State.SUCCESS
    assert storage.read(execution, outputs(execution)["both"]["uri"]) == b"x|y|"


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_refuses_another_flows_file_and_a_missing_one_when_asked(run_flow: Any) -> None:
    foreign = storage.put("/other/flow/executions/x", "secret.txt", b"not yours")
    refused = run_flow(
        f"id: files\nnamespace: tests\ntasks:\n  - id: size\n    type: io.kestra.plugin.core.storage.Size\n"
        f"    uri: {foreign}\n"
    )
    missing = run_flow(
        "id: files\nnamespace: tests\ntasks:\n  - id: drop\n    type: io.kestra.plugin.core.storage.Delete\n"
        "    uri: kestra:///tests/files/nothing.txt\n    errorOnMissing: true\n"
    )

    assert refused.state == missing.state == State.FAILED
    assert "cannot read it" in refused.task_runs.get().error
    assert "Unable to find file 'kestra:///tests/files/nothing.txt'" in missing.task_runs.get().error
    assert storage.exists(foreign)


def test_it_refuses_a_split_without_a_limit_at_load() -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(
            "id: f\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.storage.Split\n"
            "    from: kestra:///n/f/x.txt\n"
        )
    assert "Invalid configuration with no size, count, nor rows" in str(caught.value)
