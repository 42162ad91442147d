"""Third-party task families as Python packages, found through the ``portico.plugins`` entry points.

``examples/plugin`` is installed into the test environment (``make`` installs it beside Portico).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from orchestrator import plugins
from orchestrator.flowmodel import spec, task_api
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import LogLine, State

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_lists_every_type_with_its_source_and_schema() -> None:
    result = manage("plugins", "list", "--json")

    assert result.returncode == 0, result.stderr
    rows = {row["type"]: row for row in json.loads(result.stdout)}
    assert rows["io.example.text.Reverse"]["source"] == "portico-plugin-example"
    assert set(rows["io.example.text.Reverse"]["schema"]["properties"]) == {"text", "upper"}
    assert rows["io.kestra.plugin.core.log.Log"]["source"] == "portico"
    assert rows["io.kestra.plugin.core.flow.Parallel"]["kind"] == "flowable"


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_runs_a_plugin_task_in_a_flow(run_flow: Any) -> None:
    execution = run_flow(
        "id: plugin\nnamespace: tests\ninputs:\n  - id: word\n    type: STRING\ntasks:\n"
        "  - id: rev\n    type: io.example.text.Reverse\n    text: '{{ inputs.word }}'\n    upper: true\n",
        {"word": "portico"},
    )

    assert execution.state == State.SUCCESS
    assert execution.task_runs.get().outputs == {"value": "OCITROP"}
    assert LogLine.objects.get(execution=execution).message == "reversed 7 characters"


def test_it_refuses_an_unknown_plugin_property_with_file_line_and_field() -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(
            "id: p\nnamespace: t\ntasks:\n  - id: rev\n    type: io.example.text.Reverse\n    text: a\n"
            "    colour: red\n",
            file="plugin.yml",
        )

    assert "plugin.yml:7: tasks[0].colour: unknown property" in str(caught.value)


def test_it_refuses_a_type_whose_properties_accept_anything() -> None:
    class Loose(BaseModel):
        text: str

    with pytest.raises(TypeError, match="must set extra='forbid'"):
        task_api.register("io.example.Loose", props=Loose)


def test_a_broken_plugin_package_is_logged_and_skipped(tmp_path: Path) -> None:
    """A real distribution on the path whose module raises: the others still load."""
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[portico.plugins]\nbroken = broken_plugin\n")
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('this plugin is broken')\n")

    result = manage(
        "plugins", "list", "--source", "portico-plugin-example", env={"PYTHONPATH": str(tmp_path)}
    )

    assert result.returncode == 0, result.stderr
    assert "io.example.text.Reverse" in result.stdout
    assert "plugin broken (broken-plugin) could not be loaded" in result.stderr
    assert "this plugin is broken" in result.stderr


def test_the_loader_knows_where_each_type_comes_from() -> None:
    assert plugins.SOURCES["io.example.text.ExampleFail"] == "portico-plugin-example"
    assert plugins.SOURCES["io.kestra.plugin.core.http.Request"] == "portico"
