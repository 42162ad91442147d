"""portico.hcloud.* through the real engine and Celery worker, against the local Hetzner API fake.

Every request the plugin sends (and every answer) is validated against the official schema when the
``hcloud_fake`` fixture tears down.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from hcloud_fake import HcloudFake
from orchestrator.flowmodel import input_options, input_types, spec
from orchestrator.plugins.hcloud import tasks as hc
from orchestrator.state.models import LogLine, State, TaskRun
from tests.fakes.hcloud_fake import hcloud_fake  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb5Yb0tJvTQ8nqUu2dXWmT3yHdqkqYtq7c0mVdQ7E0a alice@laptop"


@pytest.fixture
def fake(hcloud_fake: HcloudFake, settings: Any) -> HcloudFake:  # noqa: F811
    settings.HCLOUD_TOKEN = hcloud_fake.token
    settings.HCLOUD_ENDPOINT = hcloud_fake.endpoint
    settings.HCLOUD_POLL_INTERVAL = 0.01
    settings.HCLOUD_TIMEOUT = 5
    settings.HCLOUD_SDK_RETRIES = 0  # the engine's retry policy, not the SDK's, handles transient errors
    cache.clear()
    yield hcloud_fake
    cache.clear()


LIFECYCLE = """
id: hcloud-lifecycle
namespace: tests
inputs:
  - id: name
    type: STRING
tasks:
  - id: create
    type: portico.hcloud.CreateServer
    name: "{{ inputs.name }}"
    serverType: cx22
    image: ubuntu-24.04
    location: nbg1
    sshPublicKey: "@SSH@"
    labels:
      owner: alice@example.com
      cost-center: CC-42
  - id: off
    type: portico.hcloud.PowerOff
    serverId: "{{ outputs.create.server_id }}"
  - id: on
    type: portico.hcloud.PowerOn
    serverId: "{{ outputs.create.server_id }}"
  - id: delete
    type: portico.hcloud.DeleteServer
    serverId: "{{ outputs.create.server_id }}"
""".replace("@SSH@", SSH_KEY)

CREATE = """
id: hcloud-create
namespace: tests
tasks:
  - id: create
    type: portico.hcloud.CreateServer
    name: web-1
    serverType: cx22
    image: ubuntu-24.04
    location: fsn1
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
"""


def runs_of(execution: Any) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.all()}


def test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind(
    fake: HcloudFake, run_flow: Any
) -> None:
    execution = run_flow(LIFECYCLE, {"name": "web-1"})

    runs = runs_of(execution)
    assert execution.state == State.SUCCESS, {t: r.error for t, r in runs.items()}
    created = runs["create"].outputs
    assert created["name"] == "web-1" and created["status"] == "running"
    assert created["ipv4"].startswith("203.0.113.")
    assert created["location"] == "nbg1" and created["monthly_price"].startswith("3.79")
    assert created["labels"]["owner"] == "alice-example.com"  # made a valid label value
    assert created["labels"][hc.EXECUTION_LABEL] == str(execution.pk)
    assert runs["off"].outputs["status"] == "off"
    assert runs["on"].outputs["status"] == "running"
    assert runs["delete"].outputs == {
        "server_id": created["server_id"],
        "deleted": True,
        "ssh_keys_deleted": 1,
    }
    assert fake.cloud.servers == {} and fake.cloud.ssh_keys == {}


def test_it_retries_a_rate_limited_create_and_succeeds(fake: HcloudFake, run_flow: Any) -> None:
    fake.rate_limit_next(method="POST", path="/servers")

    execution = run_flow(CREATE)

    run = runs_of(execution)["create"]
    assert execution.state == State.SUCCESS, run.error
    assert run.attempts == 2
    assert [s.name for s in fake.cloud.servers.values()] == ["web-1"]
    assert [e.status for e in fake.exchanges if e.method == "POST"] == [429, 201]


def test_it_reports_a_permanent_failure_clearly_without_retrying(fake: HcloudFake, run_flow: Any) -> None:
    fake.resource_unavailable_next()

    execution = run_flow(CREATE)

    run = runs_of(execution)["create"]
    assert execution.state == State.FAILED
    assert run.attempts == 1  # under a retry policy, but another attempt cannot succeed
    assert "create server 'web-1'" in run.error
    assert "resource_unavailable" in run.error and "choose another server type or location" in run.error
    assert fake.cloud.servers == {}


def test_it_adopts_the_server_an_earlier_attempt_created(fake: HcloudFake, run_flow: Any) -> None:
    # The create reached the API but its answer was lost: the retry must not fail on the taken name.
    fake.timeout_next(6, method="GET", path="/servers/{id}")

    execution = run_flow(CREATE, timeout=60)

    run = runs_of(execution)["create"]
    assert execution.state == State.SUCCESS, run.error
    assert run.attempts == 2
    assert len(fake.cloud.servers) == 1
    assert any(
        "adopting it" in m
        for m in LogLine.objects.filter(execution=execution).values_list("message", flat=True)
    )


def test_it_fails_clearly_without_a_token(fake: HcloudFake, run_flow: Any, settings: Any) -> None:
    settings.HCLOUD_TOKEN = ""

    execution = run_flow(CREATE)

    run = runs_of(execution)["create"]
    assert execution.state == State.FAILED and run.attempts == 1
    assert "HCLOUD_TOKEN is not configured" in run.error


def test_it_refuses_a_token_as_a_flow_property() -> None:
    flow_text = CREATE.replace("    serverType: cx22\n", "    serverType: cx22\n    token: abc\n")
    with pytest.raises(spec.FlowValidationError, match="token"):
        spec.parse_flow(flow_text)


def test_it_lists_options_and_prices_once_per_cache_period(fake: HcloudFake) -> None:
    types = dict(input_options.options("hcloud.server_types"))
    assert types["cx22"] == "cx22 — 2 vCPU, 4 GB RAM, 40 GB disk"
    assert ("fsn1", "fsn1 — Falkenstein (DE)") in input_options.options("hcloud.locations")
    assert [value for value, _ in input_options.options("hcloud.images")] == [
        "debian-12",
        "ubuntu-22.04",
        "ubuntu-24.04",
    ]
    price = hc.price_for("cpx11", "hel1")
    assert price is not None and str(price["monthly"]).startswith("4.85")
    assert hc.price_for("ccx13", "hel1") is None  # not offered there
    listed = len([e for e in fake.exchanges if e.path == "/server_types"])

    input_options.options("hcloud.server_types")
    hc.price_for("cx22", "fsn1")

    assert len([e for e in fake.exchanges if e.path == "/server_types"]) == listed


def test_it_leaves_out_server_types_deprecated_everywhere_and_explains_per_location(
    fake: HcloudFake,
) -> None:
    offered = [value for value, _ in input_options.options("hcloud.server_types")]

    assert "cx11" not in offered  # the fake deprecates cx11 in every location
    assert "cx21" in offered  # deprecated in fsn1 only
    assert hc.unavailable_reason("cx21", "nbg1") is None
    assert hc.unavailable_reason("cx21", "fsn1") == (
        "server type cx21 is deprecated in fsn1 (unavailable after 2024-09-06); "
        "still offered in nbg1, hel1: choose another"
    )
    assert hc.unavailable_reason("cx11", "hel1").startswith("server type cx11 is deprecated in hel1")
    assert hc.unavailable_reason("ccx13", "hel1") == "server type ccx13 is not offered in hel1"
    assert hc.unavailable_reason("cx22", "fsn1") is None


def test_it_reports_options_unavailable_when_the_api_is_down(fake: HcloudFake) -> None:
    fake.fail_next(503, method="GET", path="/server_types")

    with pytest.raises(input_options.OptionsUnavailable, match="503|unavailable"):
        input_options.options("hcloud.server_types")


SELECT_FLOW = """
id: pick
namespace: tests
inputs:
  - id: server_type
    type: SELECT
    portico.options: hcloud.server_types
    defaults: cx22
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.server_type }}"
"""


def test_it_validates_a_dynamic_select_against_the_api(fake: HcloudFake) -> None:
    flow = spec.parse_flow(SELECT_FLOW)

    assert input_types.resolve_inputs(flow, {"server_type": "cpx21"}) == {"server_type": "cpx21"}
    with pytest.raises(input_types.InputsInvalid) as raised:
        input_types.resolve_inputs(flow, {"server_type": "cx99"})
    assert "must be one of: cx22, cx32" in raised.value.errors["server_type"]
    assert [v for v, _ in input_types.choices(flow.inputs[0])][:2] == ["cx22", "cx32"]


def test_it_rejects_an_unknown_options_provider_at_load() -> None:
    with pytest.raises(spec.FlowValidationError, match="unknown options provider 'hcloud.nope'"):
        spec.parse_flow(SELECT_FLOW.replace("hcloud.server_types", "hcloud.nope"))
