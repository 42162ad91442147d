"""Fuzz the three ways hostile values come in: the request form, the webhook and ``resolve_inputs`` (the
rule the CLI and subflows use too). Whatever is sent, the answer is a result or a worded refusal: no 500,
no unexpected exception, and nothing stored beyond the size limits.

Budget: a fixed number of examples per test (``derandomize``: the same ones on every run, no example
database), about 10 seconds for the module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.flowmodel.input_types import FileUpload, InputsInvalid, resolve_inputs
from orchestrator.flowmodel.spec import parse_flow
from orchestrator.scheduler import triggers
from orchestrator.state.models import Execution
from portal.catalog.services import sync_flows
from portal.requests.models import ResourceRequest

pytestmark = [
    pytest.mark.django_db,
    # Hypothesis warns that a 300 KB example has a large repr: large examples are the point here.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning"),
]


def budget(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


FORM_EXAMPLES, WEBHOOK_EXAMPLES, RESOLVE_EXAMPLES = 60, 80, 200
MAX_SECONDS_PER_CALL = 2.0

EVERY_TYPE = """\
id: every-type
namespace: portico.fuzz
inputs:
  - {id: s, type: STRING, required: false}
  - {id: i, type: INT, required: false}
  - {id: f, type: FLOAT, required: false}
  - {id: b, type: BOOL, required: false}
  - {id: sel, type: SELECT, values: [a, b], required: false}
  - {id: multi, type: MULTISELECT, values: [a, b], required: false}
  - {id: day, type: DATE, required: false}
  - {id: moment, type: DATETIME, required: false}
  - {id: clock, type: TIME, required: false}
  - {id: wait, type: DURATION, required: false}
  - {id: mail, type: EMAIL, required: false}
  - {id: secret, type: SECRET, required: false}
  - {id: doc, type: JSON, required: false}
  - {id: yml, type: YAML, required: false}
  - {id: link, type: URI, required: false}
  - {id: nums, type: ARRAY, itemType: INT, required: false}
  - {id: upload, type: FILE, required: false}
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: fuzz-key
    inputs:
      doc: "{{ trigger.body.doc ?? '' }}"
      s: "{{ trigger.body.s ?? '' }}"
      i: "{{ trigger.body.i ?? '' }}"
      wait: "{{ trigger.body.wait ?? '' }}"
      yml: "{{ trigger.body.yml ?? '' }}"
"""
INPUT_IDS = [
    "s", "i", "f", "b", "sel", "multi", "day", "moment", "clock", "wait", "mail", "secret", "doc", "yml",
    "link", "nums",
]  # fmt: skip


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines)


# What an attacker would send, as text (form fields, query strings, webhook bodies, CLI values).
TEXT = st.one_of(
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),  # deep JSON arrays
    st.integers(1, 1000).map(lambda n: '{"a":' * n + "1" + "}" * n),  # deep JSON objects
    st.integers(1, 1000).map(lambda n: "- " * n + "x"),  # deep YAML
    st.integers(0, 300_000).map(lambda n: "x" * n),  # huge strings
    st.integers(0, 100_000).map(lambda n: "é" * n),  # huge in bytes, not in characters
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", ".nan", ".inf", "-.inf", "[NaN]"]),
    st.sampled_from(['{"a": NaN}', "x: .inf", "[1e400]", "nan", "inf", "0x10", "1_000", "١٢٣"]),
    st.integers(-(10**40), 10**40).map(str),  # giant integers
    st.integers(1, 6000).map(lambda n: "9" * n),  # beyond Python's digit limit for int()
    st.integers(2, 9).map(_bomb),  # YAML alias bombs
    st.sampled_from(["base: &b {x: 1}\nother:\n  <<: *b", "&a [*a]", "!!python/object:os.system {}"]),
    st.sampled_from(["PT99999999999999999999S", "P999999999D", "PT1.999999999999S", "-P36526D", "PT"]),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "99999-01-01", "2024-02-30"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),  # odd unicode, NUL
    st.sampled_from(["\x00", "a\x00b", "\u202e", "\ufeff", "\U0001f600" * 1000, "%00", "\r\n\r\n"]),
)
# Values already parsed (webhook JSON, CLI JSON, a parent flow's outputs for a subflow).
LEAVES = st.one_of(
    st.none(), st.booleans(), st.floats(), st.integers(-(2**70), 2**70), TEXT.filter(lambda t: len(t) < 2000)
)
VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)
DEEP = st.tuples(VALUES, st.integers(0, 200)).map(lambda pair: _nest(*pair))
FILE_NAMES = st.one_of(
    st.integers(150, 400).map(lambda n: "f" * n + ".txt"),
    st.integers(60, 150).map(lambda n: "é" * n),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/\\"), max_size=300
    ),
)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def every_type(db: Any, tmp_path: Path, settings: Any) -> str:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    settings.PORTICO_WEBHOOK_RATE_PER_IP = 10**6  # rate limiting is not what is fuzzed here
    settings.PORTICO_WEBHOOK_RATE_PER_KEY = 10**6
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "every-type.yml").write_text(EVERY_TYPE)
    report = sync_flows(directory)
    assert report.ok, report.errors
    triggers.sync_triggers([parse_flow(EVERY_TYPE)], prune=False)
    return "/flows/portico.fuzz/every-type/"


def _assert_bounded(inputs: Any, limit: int) -> None:
    assert len(json.dumps(inputs, ensure_ascii=False, allow_nan=False).encode()) <= limit


def _timed(call: Any) -> Any:
    started = time.monotonic()
    result = call()
    assert time.monotonic() - started < MAX_SECONDS_PER_CALL
    return result


@budget(FORM_EXAMPLES)
@given(
    fields=st.dictionaries(
        st.sampled_from(INPUT_IDS), st.one_of(TEXT, st.lists(TEXT, max_size=3)), max_size=5
    ),
    file_name=st.none() | FILE_NAMES,
)
def test_the_request_form_never_fails(
    client: Any, settings: Any, alice: Any, plat: Any, every_type: str, fields: dict, file_name: str | None
) -> None:
    client.force_login(alice)
    data: dict[str, Any] = {"cost_center": plat.pk, **fields}
    if file_name is not None:
        data["upload"] = SimpleUploadedFile(file_name or "x", b"content")
    before = ResourceRequest.objects.count()
    response = _timed(lambda: client.post(every_type, data))
    assert response.status_code in (200, 302, 400)
    if response.status_code == 302:
        created = ResourceRequest.objects.latest("pk")
        _assert_bounded(created.inputs, settings.PORTICO_MAX_INPUTS_BYTES)
    else:
        assert ResourceRequest.objects.count() == before


@budget(WEBHOOK_EXAMPLES)
@given(
    body=st.one_of(
        TEXT,
        VALUES.map(lambda v: json.dumps(v)),
        DEEP.map(lambda v: json.dumps(v)),
        st.dictionaries(
            st.sampled_from(["doc", "s", "i", "wait", "yml"]), st.one_of(TEXT, VALUES), max_size=5
        ).map(json.dumps),
    ),
    content_type=st.sampled_from(["application/json", "text/plain"]),
    key=st.sampled_from(["fuzz-key", "wrong", "x" * 300]),
)
def test_the_webhook_never_fails(
    client: Any, settings: Any, every_type: str, body: str, content_type: str, key: str
) -> None:
    url = f"/api/v1/executions/webhook/portico.fuzz/every-type/{key}"
    response = _timed(lambda: client.post(url, data=body, content_type=content_type))
    assert response.status_code in (200, 204, 400, 404, 413), response.content[:500]
    if response.status_code == 200:
        _assert_bounded(
            Execution.objects.get(pk=response.json()["id"]).inputs, settings.PORTICO_MAX_INPUTS_BYTES
        )
    elif response.status_code == 400:
        assert len(response.content) < 10_000  # errors name the problem; they do not echo the input


@budget(RESOLVE_EXAMPLES)
@given(
    raw=st.dictionaries(
        st.sampled_from([*INPUT_IDS, "unknown", "x" * 500]),
        st.one_of(
            TEXT, VALUES, DEEP, st.sampled_from([float("nan"), float("inf"), 2**64, -(2**63) - 1, "\ud800"])
        ),
        max_size=6,
    ),
    file_name=st.none() | FILE_NAMES,
    store=st.booleans(),
)
def test_resolve_inputs_never_fails(
    settings: Any, tmp_path: Path, raw: dict, file_name: str | None, store: bool
) -> None:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    flow = parse_flow(EVERY_TYPE)
    if file_name is not None:
        raw["upload"] = FileUpload(file_name, b"content")
    try:
        resolved = _timed(
            lambda: resolve_inputs(flow, raw, files_prefix="executions/fuzz" if store else None)
        )
    except InputsInvalid as exc:
        assert exc.errors and all(isinstance(message, str) for message in exc.errors.values())
        assert len(json.dumps(exc.errors)) < 10_000
    else:
        stored = {k: (v.name if isinstance(v, FileUpload) else v) for k, v in resolved.items()}
        _assert_bounded(stored, settings.PORTICO_MAX_INPUTS_BYTES)
