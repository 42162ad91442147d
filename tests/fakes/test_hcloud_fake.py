"""The Hetzner Cloud fake, driven through the real ``hcloud`` SDK, and its schema validator.

Every test using the ``hcloud_fake`` fixture also has all its traffic (both directions) validated
against the trimmed official schema at teardown.
"""

from __future__ import annotations

import base64
import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import hcloud
import pytest
import requests
from hcloud.firewalls import FirewallRule
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from hcloud_fake.api import ROUTES
from tests.fakes.hcloud_fake import Exchange, HcloudFake, client_for
from tests.fakes.hcloud_schema import SCHEMA_PATH, HcloudSchema, SchemaViolation, hcloud_schema
from tests.fakes.trim_hcloud_schema import SOURCE, render

PUBLIC_KEY = "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + bytes(range(32))).decode()


def _create_server(client: hcloud.Client, name: str = "vm-1", **kwargs: object) -> hcloud.servers.BoundServer:
    response = client.servers.create(
        name=name, server_type=ServerType(name="cx22"), image=Image(name="ubuntu-24.04"), **kwargs
    )
    response.action.wait_until_finished()
    for action in response.next_actions:
        action.wait_until_finished()
    return client.servers.get_by_id(response.server.id)


def test_it_lists_server_types_with_prices_per_location(hcloud_client: hcloud.Client) -> None:
    types = {t.name: t for t in hcloud_client.server_types.get_all()}

    assert {"cx22", "cx32", "cpx11", "cax11"} <= types.keys()
    cx22 = types["cx22"]
    assert (cx22.cores, cx22.memory, cx22.disk, cx22.architecture) == (2, 4.0, 40, "x86")
    prices = {p["location"]: p for p in cx22.prices}
    assert prices.keys() == {"fsn1", "nbg1", "hel1"}
    assert prices["fsn1"]["price_monthly"] == {"net": "3.7900000000", "gross": "4.5101000000000000"}
    assert {loc.location.name for loc in cx22.locations} == {"fsn1", "nbg1", "hel1"}
    cpx11 = {p["location"]: p["price_monthly"]["net"] for p in types["cpx11"].prices}
    assert cpx11["hel1"] != cpx11["fsn1"]  # prices really are per location


def test_it_serves_deprecated_server_types_and_refuses_them_where_deprecated(
    hcloud_client: hcloud.Client,
) -> None:
    types = {t.name: t for t in hcloud_client.server_types.get_all()}
    per_location = {loc.location.name: loc.deprecation for loc in types["cx21"].locations}

    assert per_location["fsn1"] is not None and per_location["fsn1"].unavailable_after.year == 2024
    assert per_location["nbg1"] is None and per_location["hel1"] is None
    assert all(loc.deprecation is not None for loc in types["cx11"].locations)
    with pytest.raises(hcloud.APIException) as gone:
        hcloud_client.servers.create(
            name="old",
            server_type=ServerType(name="cx21"),
            image=Image(name="debian-12"),
            location=Location(name="fsn1"),
        )
    assert gone.value.code == "resource_unavailable"
    response = hcloud_client.servers.create(
        name="still-fine",
        server_type=ServerType(name="cx21"),
        image=Image(name="debian-12"),
        location=Location(name="nbg1"),
    )
    assert response.server.server_type.name == "cx21"


def test_it_filters_images_the_way_the_sdk_asks(hcloud_client: hcloud.Client) -> None:
    x86 = hcloud_client.images.get_all(type=["system"], architecture=["x86"])
    arm = hcloud_client.images.get_all(type=["system"], architecture=["arm"])

    assert {i.name for i in x86} == {"ubuntu-24.04", "ubuntu-22.04", "debian-12"}
    assert {i.name for i in arm} == {"ubuntu-24.04", "debian-12"}
    assert hcloud_client.images.get_by_name_and_architecture("debian-12", "arm").architecture == "arm"
    assert hcloud_client.images.get_all(type=["snapshot"]) == []


def test_it_lists_locations_and_datacenters(hcloud_client: hcloud.Client) -> None:
    assert [loc.name for loc in hcloud_client.locations.get_all()] == ["fsn1", "nbg1", "hel1"]
    assert hcloud_client.locations.get_by_name("hel1").country == "FI"
    with pytest.warns(DeprecationWarning):
        datacenters = hcloud_client.datacenters.get_all()
    assert {dc.location.name for dc in datacenters} == {"fsn1", "nbg1", "hel1"}


def test_it_creates_a_server_with_ssh_key_labels_and_firewall(hcloud_client: hcloud.Client) -> None:
    key = hcloud_client.ssh_keys.create(name="alice", public_key=PUBLIC_KEY, labels={"owner": "alice"})
    rule = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0", "::/0"])
    firewall = hcloud_client.firewalls.create(name="ssh-only", rules=[rule]).firewall

    server = _create_server(
        hcloud_client,
        location=Location(name="nbg1"),
        ssh_keys=[key],
        firewalls=[firewall],
        labels={"portico.dev/owner": "alice", "env": "dev"},
    )

    assert server.status == "running"
    assert server.location.name == "nbg1"
    assert server.labels == {"portico.dev/owner": "alice", "env": "dev"}
    assert server.public_net.ipv4.ip.startswith("203.0.113.")  # documentation range, never routable
    assert [f.firewall.id for f in server.public_net.firewalls] == [firewall.id]
    applied = hcloud_client.firewalls.get_by_id(firewall.id).applied_to
    assert [a.server.id for a in applied] == [server.id]
    assert ":" in key.fingerprint and len(key.fingerprint) == 47


def test_it_reports_actions_running_before_success(hcloud_fake: HcloudFake) -> None:
    client = client_for(hcloud_fake)
    response = client.servers.create(
        name="slow", server_type=ServerType(name="cx22"), image=Image(name="debian-12")
    )
    action_id = response.action.id

    assert response.action.status == "running"
    response.action.wait_until_finished()

    polls = [e for e in hcloud_fake.exchanges if e.path == f"/actions/{action_id}"]
    assert [e.response_body["action"]["status"] for e in polls] == ["running", "success"]
    assert response.root_password  # no SSH key: the API generates a root password


def test_it_serves_server_actions_under_both_paths(
    hcloud_client: hcloud.Client, hcloud_fake: HcloudFake
) -> None:
    server = _create_server(hcloud_client)
    other = _create_server(hcloud_client, name="vm-2")
    action = server.power_off()

    assert hcloud_client.servers.actions.get_by_id(action.id).command == "stop_server"
    scoped = requests.get(
        f"{hcloud_fake.endpoint}/servers/{server.id}/actions/{action.id}",
        headers={"Authorization": f"Bearer {hcloud_fake.token}"},
        timeout=5,
    )
    assert scoped.status_code == 200 and scoped.json()["action"]["id"] == action.id
    foreign = requests.get(
        f"{hcloud_fake.endpoint}/servers/{other.id}/actions/{action.id}",
        headers={"Authorization": f"Bearer {hcloud_fake.token}"},
        timeout=5,
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"


def test_it_powers_a_server_off_and_on(hcloud_client: hcloud.Client) -> None:
    server = _create_server(hcloud_client)

    server.power_off().wait_until_finished()
    assert hcloud_client.servers.get_by_id(server.id).status == "off"
    server.power_on().wait_until_finished()
    assert hcloud_client.servers.get_by_id(server.id).status == "running"


def test_it_deletes_a_server_and_it_is_gone(hcloud_client: hcloud.Client) -> None:
    server = _create_server(hcloud_client)

    server.delete().wait_until_finished()

    with pytest.raises(hcloud.APIException) as raised:
        hcloud_client.servers.get_by_id(server.id)
    assert raised.value.code == "not_found"
    assert hcloud_client.servers.get_all() == []


def test_it_finds_servers_by_label_selector_and_name(hcloud_client: hcloud.Client) -> None:
    _create_server(hcloud_client, "web-1", labels={"portico.dev/request": "7", "tier": "web"})
    _create_server(hcloud_client, "api-1", labels={"portico.dev/request": "8", "tier": "api"})
    _create_server(hcloud_client, "db-1", labels={"tier": "db"})

    def names(**kwargs: str) -> list[str]:
        return sorted(s.name for s in hcloud_client.servers.get_all(**kwargs))

    assert names(label_selector="portico.dev/request") == ["api-1", "web-1"]
    assert names(label_selector="portico.dev/request=7") == ["web-1"]
    assert names(label_selector="tier in (web,db),!portico.dev/request") == ["db-1"]
    assert names(label_selector="tier!=web") == ["api-1", "db-1"]
    assert names(name="api-1") == ["api-1"]


def test_it_paginates_with_the_apis_meta(hcloud_client: hcloud.Client) -> None:
    for i in range(3):
        _create_server(hcloud_client, f"vm-{i}")

    page = hcloud_client.servers.get_list(page=2, per_page=2)

    assert [s.name for s in page.servers] == ["vm-2"]
    pagination = page.meta.pagination
    assert (pagination.page, pagination.previous_page, pagination.next_page) == (2, 1, None)
    assert (pagination.last_page, pagination.total_entries) == (2, 3)
    assert len(hcloud_client.servers.get_all()) == 3  # the SDK follows next_page


def test_it_lets_the_sdk_retry_a_rate_limit(hcloud_fake: HcloudFake, hcloud_client: hcloud.Client) -> None:
    """hcloud-python itself retries ``rate_limit_exceeded`` (up to 5 times, backoff from 1 s)."""
    hcloud_fake.rate_limit_next(method="GET", path="/server_types")

    assert hcloud_client.server_types.get_all()

    first, second = [e for e in hcloud_fake.exchanges if e.path == "/server_types"]
    assert first.status == 429 and first.response_body["error"]["code"] == "rate_limit_exceeded"
    assert first.response_headers["RateLimit-Remaining"] == "0"
    assert int(first.response_headers["RateLimit-Reset"]) > time.time() - 1
    assert second.status == 200


def test_it_surfaces_resource_unavailable_without_retrying(
    hcloud_fake: HcloudFake, hcloud_client: hcloud.Client
) -> None:
    hcloud_fake.resource_unavailable_next()

    with pytest.raises(hcloud.APIException) as raised:
        hcloud_client.servers.create(
            name="vm-1", server_type=ServerType(name="cx22"), image=Image(name="debian-12")
        )

    assert raised.value.code == "resource_unavailable"
    assert raised.value.message == "error during placement"
    assert len([e for e in hcloud_fake.exchanges if e.method == "POST"]) == 1
    assert hcloud_client.servers.get_all() == []


@pytest.mark.parametrize(("status", "code"), [(503, "unavailable"), (500, "server_error")])
def test_it_surfaces_server_errors_that_the_sdk_does_not_retry(
    hcloud_fake: HcloudFake, hcloud_client: hcloud.Client, status: int, code: str
) -> None:
    hcloud_fake.fail_next(status, path="/locations")

    with pytest.raises(hcloud.APIException) as raised:
        hcloud_client.locations.get_all()

    assert raised.value.code == code
    assert [e.status for e in hcloud_fake.exchanges] == [status]
    assert hcloud_client.locations.get_all()  # one-shot fault: the next call works


def test_it_lets_the_sdk_retry_a_timed_out_request(hcloud_fake: HcloudFake) -> None:
    """The SDK retries ``requests`` timeouts too; the held request is dropped, never processed."""
    client = client_for(hcloud_fake, timeout=0.5)
    hcloud_fake.timeout_next(2.0, method="GET", path="/images")

    assert client.images.get_all(type=["system"])

    assert [e.status for e in hcloud_fake.exchanges] == [None, 200]


def test_it_answers_a_wrong_token_with_401(hcloud_fake: HcloudFake) -> None:
    client = client_for(hcloud_fake, token="not-the-token")

    with pytest.raises(hcloud.APIException) as raised:
        client.servers.get_all()

    assert raised.value.code == "unauthorized"
    assert hcloud_fake.exchanges[0].status == 401
    assert hcloud_fake.exchanges[0].response_body == {
        "error": {"code": "unauthorized", "message": "unable to authenticate", "details": None}
    }


def test_it_rejects_conflicting_and_invalid_input(hcloud_client: hcloud.Client) -> None:
    _create_server(hcloud_client)

    with pytest.raises(hcloud.APIException) as duplicate:
        _create_server(hcloud_client)
    with pytest.raises(hcloud.APIException) as bad_type:
        hcloud_client.servers.create(
            name="vm-2", server_type=ServerType(name="cx999"), image=Image(name="debian-12")
        )
    with pytest.raises(hcloud.APIException) as sold_out:
        hcloud_client.servers.create(
            name="vm-3",
            server_type=ServerType(name="ccx13"),
            image=Image(name="debian-12"),
            location=Location(name="hel1"),
        )

    assert duplicate.value.code == "uniqueness_error"
    assert bad_type.value.code == "invalid_input"
    assert bad_type.value.details["fields"][0]["name"] == "server_type"
    assert sold_out.value.code == "resource_unavailable"


def test_it_validates_a_whole_session_against_the_schema(
    hcloud_fake: HcloudFake, hcloud_client: hcloud.Client
) -> None:
    key = hcloud_client.ssh_keys.create(name="k", public_key=PUBLIC_KEY)
    firewall = hcloud_client.firewalls.create(name="fw").firewall
    server = _create_server(hcloud_client, ssh_keys=[key], firewalls=[firewall], labels={"a": "b"})
    server.delete().wait_until_finished()
    with pytest.raises(hcloud.APIException):
        hcloud_client.servers.get_by_id(server.id)
    hcloud_client.ssh_keys.delete(key)
    hcloud_client.firewalls.delete(firewall)
    hcloud_fake.fail_next(503, path="/ssh_keys")
    with pytest.raises(hcloud.APIException):
        hcloud_client.ssh_keys.get_all()

    checked = hcloud_schema().assert_valid(hcloud_fake.exchanges)

    assert checked == len(hcloud_fake.exchanges) > 10
    assert {e.status for e in hcloud_fake.exchanges} >= {200, 201, 204, 404, 503}


def _exchange(body: dict[str, object]) -> Exchange:
    return Exchange(
        method="GET",
        path="/servers/1",
        query={},
        request_headers={"Authorization": "Bearer t"},
        request_body=None,
        status=200,
        response_headers={"Content-Type": "application/json"},
        response_body=body,
    )


def test_it_catches_a_malformed_response(hcloud_fake: HcloudFake, hcloud_client: hcloud.Client) -> None:
    server = _create_server(hcloud_client)
    good = next(e for e in hcloud_fake.exchanges if e.path == f"/servers/{server.id}" and e.status == 200)
    broken = copy.deepcopy(good.response_body)
    broken["server"]["status"] = "exploded"
    del broken["server"]["public_net"]
    broken["server"]["server_type"]["prices"][0]["price_monthly"]["net"] = 3.79

    schema = hcloud_schema()
    assert schema.errors(_exchange(good.response_body)) == []
    problems = "\n".join(schema.errors(_exchange(broken)))

    assert "response body/server/status: 'exploded' is not one of" in problems
    assert "'public_net' is a required property" in problems
    assert "prices/0/price_monthly/net: 3.79 is not of type 'string'" in problems
    with pytest.raises(SchemaViolation):
        schema.assert_valid([_exchange(broken)])


def test_it_catches_a_malformed_request() -> None:
    exchange = Exchange(
        method="POST",
        path="/servers",
        query={"bogus": ["1"]},
        request_headers={},
        request_body={"name": "vm", "image": "debian-12", "labels": {"ok": "no spaces allowed"}},
    )

    problems = "\n".join(hcloud_schema().errors(exchange))

    assert "no bearer token" in problems
    assert "'bogus' is not a parameter" in problems
    assert "'server_type' is a required property" in problems
    assert "request body/labels/ok" in problems


def test_it_serves_exactly_the_operations_of_the_trimmed_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    in_schema = {(m.upper(), p) for p, item in schema["paths"].items() for m in item}

    assert in_schema == {(r.method, r.template) for r in ROUTES}
    assert "example" not in SCHEMA_PATH.read_text() and '"summary"' not in SCHEMA_PATH.read_text()


@pytest.mark.skipif(not SOURCE.exists(), reason="the official schema lives in ../shared, absent in a clone")
def test_it_keeps_the_trimmed_schema_generated_from_the_official_one() -> None:
    assert render(SOURCE) == SCHEMA_PATH.read_text(), (
        "run: .venv/bin/python tests/fakes/trim_hcloud_schema.py"
    )


def test_it_runs_without_the_shared_schema(tmp_path: Path) -> None:
    """The packaged trimmed copy is all a clone needs (loaded from its own path, not ../shared)."""
    copied = tmp_path / "schema.json"
    copied.write_text(SCHEMA_PATH.read_text())

    assert HcloudSchema.load(copied).find("POST", "/servers") is not None


def test_it_finishes_actions_after_a_time_budget() -> None:
    with HcloudFake(action_polls=10_000, action_seconds=0.2) as fake:
        client = client_for(fake)
        started = time.monotonic()
        _create_server(client)
        elapsed = time.monotonic() - started

        assert 0.2 <= elapsed < 3
        hcloud_schema().assert_valid(fake.exchanges)


def test_it_runs_standalone_with_python_m() -> None:
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "hcloud_fake", "--port", "0", "--token", "s3cret"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        endpoint = banner.split()[3]
        client = hcloud.Client(
            token="s3cret", api_endpoint=endpoint, api_endpoint_hetzner=endpoint, timeout=5
        )

        assert endpoint.startswith("http://127.0.0.1:") and endpoint.endswith("/v1")
        assert [loc.name for loc in client.locations.get_all()] == ["fsn1", "nbg1", "hel1"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_the_shipped_fake_imports_neither_the_product_nor_dev_only_packages() -> None:
    """``hcloud_fake`` ships as its own package: standard library only, no Django, no engine, no
    schema validator (the dev extra ``openapi-schema-validator`` stays in ``tests/fakes``)."""
    repo = Path(__file__).resolve().parents[2]
    forbidden = {"django", "orchestrator", "portal", "tests", "hcloud"}
    forbidden |= {"jsonschema", "openapi_schema_validator"}
    probe = (
        "import sys, hcloud_fake, hcloud_fake.__main__\n"
        f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & set({sorted(forbidden)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
