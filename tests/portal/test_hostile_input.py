"""Hostile requests get a clear answer and cost little: ids that do not exist (or may not be seen) are a
404 on every URL taking one, out-of-range filters an empty result, hostile form values a field error
(400), and a huge or deeply nested webhook body a 413/400 before any work."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orchestrator.flowmodel.spec import parse_flow
from orchestrator.scheduler import triggers
from orchestrator.state.models import Execution
from portal.audit.services import record
from portal.catalog.services import sync_flows
from portal.requests.models import ResourceRequest
from portal.requests.services import submit_request
from portal.resources.models import Resource

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db

HUGE_ID = "9" * 23
YAML_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)

HOSTILE_FLOW = """\
id: hostile
namespace: portico.tests
inputs:
  - id: doc
    type: YAML
    required: false
  - id: data
    type: JSON
    required: false
  - id: wait
    type: DURATION
    required: false
  - id: count
    type: INT
    required: false
  - id: upload
    type: FILE
    required: false
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""

HOOKED_FLOW = """\
id: hooked
namespace: portico.tests
inputs:
  - id: data
    type: JSON
    required: false
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: the-key
    inputs:
      data: "{{ trigger.body.data ?? '' }}"
"""
WEBHOOK = "/api/v1/executions/webhook/portico.tests/hooked/the-key"
WRONG_KEY = "/api/v1/executions/webhook/portico.tests/hooked/not-the-key"


@pytest.fixture
def hostile(flows_dir: Path, catalog: Any) -> Any:
    (flows_dir / "hostile.yml").write_text(HOSTILE_FLOW)
    report = sync_flows(flows_dir)
    assert report.ok, report.errors
    return reverse("requests:new", args=["portico.tests", "hostile"])


@pytest.fixture
def storage_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    return settings.PORTICO_STORAGE_DIR


@pytest.fixture
def hooked(settings: Any) -> None:
    # Rate limiting is another concern: these tests post many times from one address.
    settings.PORTICO_WEBHOOK_RATE_PER_IP = 10**6
    settings.PORTICO_WEBHOOK_RATE_PER_KEY = 10**6
    report = triggers.sync_triggers([parse_flow(HOOKED_FLOW)], prune=False)
    assert not getattr(report, "errors", None)


# ------------------------------------------------------------------------------------- ids → 404


def test_deciding_a_request_that_does_not_exist_is_a_404(client: Any, bob: Any) -> None:
    client.force_login(bob)
    for pk in ("99999", HUGE_ID):
        response = client.post(f"/approvals/{pk}/decide/", {"decision": "approve"})
        assert response.status_code == 404


def test_acting_on_a_resource_that_does_not_exist_or_is_not_mine_is_the_same_404(
    client: Any, catalog: Any, alice: Any, mallory: Any, plat: Any
) -> None:
    request = submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )
    resource = Resource.objects.create(
        kind="hcloud-server",
        name="alices",
        owner=alice,
        cost_center=plat,
        request=request,
        namespace="n",
        monthly_cost=Decimal("3.79"),
    )
    client.force_login(mallory)
    missing = client.post("/resources/99999/actions/destroy/")
    not_mine = client.post(f"/resources/{resource.pk}/actions/destroy/")
    huge = client.post(f"/resources/{HUGE_ID}/actions/destroy/")
    assert (missing.status_code, not_mine.status_code, huge.status_code) == (404, 404, 404)
    assert _page(missing) == _page(not_mine)  # nothing tells which ids exist
    assert ResourceRequest.objects.count() == 1


def _page(response: Any) -> str:
    """The page without its CSRF tokens (they change on each response)."""
    return re.sub(r"[A-Za-z0-9]{64}", "", response.content.decode())


@pytest.mark.parametrize(
    "url",
    [
        "/requests/99999/",
        f"/requests/{HUGE_ID}/",
        "/requests/99999/live/",
        f"/requests/{HUGE_ID}/live/",
        "/resources/99999/",
        f"/resources/{HUGE_ID}/",
        "/executions/00000000-0000-0000-0000-000000000000/",
        "/executions/00000000-0000-0000-0000-000000000000/live/",
        "/executions/00000000-0000-0000-0000-000000000000/logs/",
        "/flows/portico.tests/no-such-flow/",
        "/resources/price/portico.tests/no-such-flow/",
    ],
)
def test_every_page_with_an_id_is_a_404_for_an_id_that_does_not_exist(
    client: Any, catalog: Any, alice: Any, url: str
) -> None:
    client.force_login(alice)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("action", ["kill", "resume", "restart", "replay"])
def test_every_execution_action_is_a_404_for_an_execution_that_does_not_exist(
    client: Any, bob: Any, action: str
) -> None:
    client.force_login(bob)
    url = f"/executions/00000000-0000-0000-0000-000000000000/{action}/"
    assert client.post(url).status_code == 404


# ------------------------------------------------------------------------------ audit filters


@pytest.fixture
def audit_events(alice: Any, plat: Any) -> None:
    record("requested", actor=alice, target=("requests.resourcerequest", 1), cost_center=plat)


def _csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("value", [HUGE_ID, str(2**63), "9" * 5000])
@pytest.mark.parametrize("param", ["actor", "cost_center"])
def test_an_out_of_range_audit_filter_is_an_empty_result(
    client: Any, bob: Any, audit_events: None, param: str, value: str
) -> None:
    client.force_login(bob)
    page = client.get(reverse("audit:list"), {param: value})
    export = client.get(reverse("audit:export"), {param: value})
    assert page.status_code == 200 and "requested" not in page.content.decode().split("<table")[-1]
    assert export.status_code == 200
    assert _csv_rows(export) == [
        [
            "id",
            "created",
            "actor",
            "verb",
            "target_type",
            "target_id",
            "flow",
            "cost_center",
            "details",
            "hash",
        ]
    ]


@pytest.mark.parametrize("value", ["²", "١", "-1", "1.5", "0x10", ""])
def test_a_malformed_audit_filter_is_ignored(client: Any, bob: Any, audit_events: None, value: str) -> None:
    client.force_login(bob)
    export = client.get(reverse("audit:export"), {"actor": value})
    assert export.status_code == 200 and _csv_rows(export) == _csv_rows(client.get(reverse("audit:export")))


def test_the_largest_id_is_still_a_filter(client: Any, bob: Any, alice: Any, audit_events: None) -> None:
    client.force_login(bob)
    assert len(_csv_rows(client.get(reverse("audit:export"), {"actor": str(2**63 - 1)}))) == 1
    assert len(_csv_rows(client.get(reverse("audit:export"), {"actor": str(alice.pk)}))) == 2


# ---------------------------------------------------------------------------------- the form


def _post(client: Any, url: str, plat: Any, **fields: Any) -> Any:
    return client.post(url, {"cost_center": plat.pk, **fields})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("doc", YAML_BOMB, "This value must not use YAML aliases (*name); write the value out instead."),
        ("doc", ".nan", "This value must not contain NaN or Infinity."),
        ("data", "NaN", "This value must be valid JSON (NaN is not a number JSON allows)."),
        ("data", '{"a": Infinity}', "This value must be valid JSON (Infinity is not a number JSON allows)."),
        ("data", "[" * 5000 + "]" * 5000, "This value is nested too deeply (at most 32 levels)."),
        ("wait", "PT99999999999999999999S", "This value must be at most 100 years (P36525D), got"),
        ("count", "9" * 23, "This value must be between -9223372036854775808 and 9223372036854775807."),
    ],
)
def test_a_hostile_form_value_is_a_field_error(
    client: Any, alice: Any, plat: Any, hostile: str, field: str, value: str, message: str
) -> None:
    client.force_login(alice)
    started = time.monotonic()
    response = _post(client, hostile, plat, **{field: value})
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert time.monotonic() - started < 2
    assert not ResourceRequest.objects.exists()


def test_an_upload_name_of_300_characters_is_a_field_error(
    client: Any, alice: Any, plat: Any, hostile: str, storage_dir: Path
) -> None:
    client.force_login(alice)
    upload = SimpleUploadedFile("k" * 296 + ".txt", b"data")
    response = _post(client, hostile, plat, upload=upload)
    assert response.status_code == 400
    assert "This value has too long a file name (at most 200 bytes" in response.content.decode()
    assert not ResourceRequest.objects.exists()


def test_an_upload_name_at_the_limit_is_stored(
    client: Any, alice: Any, plat: Any, hostile: str, storage_dir: Path
) -> None:
    client.force_login(alice)
    name = "k" * 196 + ".txt"
    response = _post(client, hostile, plat, upload=SimpleUploadedFile(name, b"data"))
    assert response.status_code == 302
    assert ResourceRequest.objects.get().inputs["upload"].endswith(name)


def test_inputs_too_large_together_are_a_form_error(
    client: Any, settings: Any, alice: Any, plat: Any, hostile: str
) -> None:
    settings.PORTICO_MAX_INPUTS_BYTES = 100
    client.force_login(alice)
    response = _post(client, hostile, plat, doc="x" * 60, data=json.dumps("y" * 60))
    assert response.status_code == 400
    assert "The inputs together are too large (at most 100 bytes" in response.content.decode()
    assert _post(client, hostile, plat, doc="x" * 40, data=json.dumps("y" * 40)).status_code == 302


# ---------------------------------------------------------------------------------- the webhook


def test_a_deeply_nested_webhook_body_is_a_400_without_credentials(client: Any, hooked: None) -> None:
    body = "[" * 100_000 + "]" * 100_000
    started = time.monotonic()
    response = client.post(WRONG_KEY, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"message": "The request body is nested too deeply (at most 32 levels)."}
    assert time.monotonic() - started < 1
    assert not Execution.objects.exists()


def test_the_webhook_body_depth_limit_is_exact(client: Any, settings: Any, hooked: None) -> None:
    settings.PORTICO_MAX_JSON_DEPTH = 3
    assert client.post(WRONG_KEY, data="[[[1]]]", content_type="application/json").status_code == 404
    deeper = client.post(WRONG_KEY, data="[[[[1]]]]", content_type="application/json")
    assert deeper.status_code == 400


def test_a_webhook_body_over_the_size_limit_is_a_413(client: Any, settings: Any, hooked: None) -> None:
    settings.PORTICO_MAX_WEBHOOK_BODY_BYTES = 100
    at_limit = client.post(WRONG_KEY, data="x" * 100, content_type="text/plain")
    over = client.post(WRONG_KEY, data="x" * 101, content_type="text/plain")
    assert at_limit.status_code == 404  # read, then refused for its key
    assert over.status_code == 413
    assert over.json() == {"message": "The request body is larger than the 100 bytes allowed."}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"data": NaN}', "The request body must not contain NaN: JSON has no such number."),
        ('{"data": [1e999]}', "The request body must not contain NaN or Infinity."),
        ('{"data": "a\\u0000b"}', "The request body must not contain NUL characters."),
    ],
)
def test_a_webhook_body_the_database_cannot_store_is_a_400(
    client: Any, hooked: None, body: str, message: str
) -> None:
    response = client.post(WEBHOOK, data=body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert not Execution.objects.exists()


def test_hostile_webhook_inputs_are_a_400_naming_the_input(client: Any, settings: Any, hooked: None) -> None:
    settings.PORTICO_MAX_INPUT_DOCUMENT_BYTES = 50
    large = {"data": {"a": "x" * 60}}
    response = client.post(WEBHOOK, data=json.dumps(large), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"data": "is too large (at most 50 bytes)"}
    ok = client.post(WEBHOOK, data=json.dumps({"data": {"a": 1}}), content_type="application/json")
    assert ok.status_code == 200
    assert Execution.objects.get().inputs == {"data": {"a": 1}}
