"""The operations the fake serves, as a route table of (method, path template) -> handler.

The table is also the list ``trim_hcloud_schema.py`` keeps from the official schema, so the trimmed
schema and the fake cannot drift apart silently (a test compares them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hcloud_fake.cloud import ApiError, Cloud, invalid_input
from hcloud_fake.labels import LabelSelectorError, compile_selector


@dataclass
class Call:
    """One parsed request: path parameters are ints, query values lists of strings (repeatable)."""

    params: dict[str, int]
    query: dict[str, list[str]]
    body: Any

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def integer(self, name: str, default: int) -> int:
        value = self.one(name)
        if value is None:
            return default
        if not value.isdigit() or int(value) < 1:
            raise invalid_input(name, "must be a positive integer")
        return int(value)

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ApiError(400, "json_error", "request body must be a JSON object")
        return self.body


Reply = tuple[int, dict[str, Any] | None]
Handler = Callable[[Cloud, Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[0-9]+)", self.template) + "$")


MAX_PER_PAGE = 50


def listing(call: Call, key: str, items: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> Reply:
    """Filter by name/label_selector, sort, and paginate with the API's ``meta.pagination``."""
    if (name := call.one("name")) is not None:
        items = [i for i in items if i.get("name") == name]
    if (selector := call.one("label_selector")) is not None:
        try:
            matches = compile_selector(selector)
        except LabelSelectorError as exc:
            raise invalid_input("label_selector", str(exc)) from exc
        items = [i for i in items if matches(i.get("labels", {}))]
    for sort in reversed(call.query.get("sort", [])):
        field, _, direction = sort.partition(":")
        if field not in ("id", "name", "created"):
            raise invalid_input("sort", f"cannot sort by {field!r}")
        items = sorted(
            items, key=lambda i, f=field: (i.get(f) is None, i.get(f)), reverse=direction == "desc"
        )
    page, per_page = call.integer("page", 1), min(call.integer("per_page", 25), MAX_PER_PAGE)
    last_page = max(1, math.ceil(len(items) / per_page))
    pagination = {
        "page": page,
        "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last_page else None,
        "last_page": last_page,
        "total_entries": len(items),
    }
    body = {key: items[(page - 1) * per_page : page * per_page], "meta": {"pagination": pagination}}
    return 200, body | (extra or {})


def list_server_types(cloud: Cloud, call: Call) -> Reply:
    return listing(call, "server_types", cloud.server_types)


def list_images(cloud: Cloud, call: Call) -> Reply:
    images = cloud.images
    if types := call.query.get("type"):
        images = [i for i in images if i["type"] in types]
    if arch := call.query.get("architecture"):
        images = [i for i in images if i["architecture"] in arch]
    if statuses := call.query.get("status"):
        images = [i for i in images if i["status"] in statuses]
    return listing(call, "images", images)


def list_locations(cloud: Cloud, call: Call) -> Reply:
    return listing(call, "locations", cloud.locations)


def list_datacenters(cloud: Cloud, call: Call) -> Reply:
    return listing(call, "datacenters", cloud.datacenters, {"recommendation": cloud.datacenters[0]["id"]})


def get_one(attr: str, key: str, kind: str) -> Handler:
    def handler(cloud: Cloud, call: Call) -> Reply:
        return 200, {key: cloud.by_id(getattr(cloud, attr), kind, call.params["id"])}

    return handler


def list_servers(cloud: Cloud, call: Call) -> Reply:
    servers = [cloud.server_json(rec) for rec in cloud.servers.values()]
    if statuses := call.query.get("status"):
        servers = [s for s in servers if s["status"] in statuses]
    return listing(call, "servers", servers)


def create_server(cloud: Cloud, call: Call) -> Reply:
    rec, action, next_actions, password = cloud.create_server(call.json_object())
    return 201, {
        "server": cloud.server_json(rec),
        "action": action.to_json(),
        "next_actions": [a.to_json() for a in next_actions],
        "root_password": password,
    }


def get_server(cloud: Cloud, call: Call) -> Reply:
    return 200, {"server": cloud.server_json(cloud.server(call.params["id"]))}


def delete_server(cloud: Cloud, call: Call) -> Reply:
    return 200, {"action": cloud.delete_server(call.params["id"]).to_json()}


def power(on: bool) -> Handler:
    def handler(cloud: Cloud, call: Call) -> Reply:
        return 201, {"action": cloud.power(call.params["id"], on).to_json()}

    return handler


def get_action(cloud: Cloud, call: Call) -> Reply:
    action = cloud.actions.actions.get(call.params["id"])
    if action is None:
        raise ApiError(404, "not_found", f"action with ID '{call.params['id']}' not found")
    action.observe()
    return 200, {"action": action.to_json()}


def get_server_action(cloud: Cloud, call: Call) -> Reply:
    action = cloud.actions.actions.get(call.params["action_id"])
    ours = action is not None and {"id": call.params["id"], "type": "server"} in action.resources
    if not ours:
        raise ApiError(404, "not_found", f"action with ID '{call.params['action_id']}' not found")
    action.observe()
    return 200, {"action": action.to_json()}


def get_any_server_action(cloud: Cloud, call: Call) -> Reply:
    """``/servers/actions/{id}``: what ``client.servers.actions.get_by_id`` calls."""
    action = cloud.actions.actions.get(call.params["id"])
    if action is None or not any(r["type"] == "server" for r in action.resources):
        raise ApiError(404, "not_found", f"action with ID '{call.params['id']}' not found")
    action.observe()
    return 200, {"action": action.to_json()}


def list_ssh_keys(cloud: Cloud, call: Call) -> Reply:
    keys = list(cloud.ssh_keys.values())
    if (fingerprint := call.one("fingerprint")) is not None:
        keys = [k for k in keys if k["fingerprint"] == fingerprint]
    return listing(call, "ssh_keys", keys)


def create_ssh_key(cloud: Cloud, call: Call) -> Reply:
    return 201, {"ssh_key": cloud.create_ssh_key(call.json_object())}


def get_ssh_key(cloud: Cloud, call: Call) -> Reply:
    key = cloud.ssh_keys.get(call.params["id"])
    if key is None:
        raise ApiError(404, "not_found", f"ssh_key with ID '{call.params['id']}' not found")
    return 200, {"ssh_key": key}


def delete_ssh_key(cloud: Cloud, call: Call) -> Reply:
    if cloud.ssh_keys.pop(call.params["id"], None) is None:
        raise ApiError(404, "not_found", f"ssh_key with ID '{call.params['id']}' not found")
    return 204, None


def list_firewalls(cloud: Cloud, call: Call) -> Reply:
    return listing(call, "firewalls", list(cloud.firewalls.values()))


def create_firewall(cloud: Cloud, call: Call) -> Reply:
    firewall, actions = cloud.create_firewall(call.json_object())
    return 201, {"firewall": firewall, "actions": [a.to_json() for a in actions]}


def get_firewall(cloud: Cloud, call: Call) -> Reply:
    firewall = cloud.firewalls.get(call.params["id"])
    if firewall is None:
        raise ApiError(404, "not_found", f"firewall with ID '{call.params['id']}' not found")
    return 200, {"firewall": firewall}


def delete_firewall(cloud: Cloud, call: Call) -> Reply:
    cloud.delete_firewall(call.params["id"])
    return 204, None


ROUTES: list[Route] = [
    Route("GET", "/server_types", list_server_types),
    Route("GET", "/server_types/{id}", get_one("server_types", "server_type", "server_type")),
    Route("GET", "/images", list_images),
    Route("GET", "/images/{id}", get_one("images", "image", "image")),
    Route("GET", "/locations", list_locations),
    Route("GET", "/locations/{id}", get_one("locations", "location", "location")),
    Route("GET", "/datacenters", list_datacenters),
    Route("GET", "/datacenters/{id}", get_one("datacenters", "datacenter", "datacenter")),
    Route("GET", "/servers", list_servers),
    Route("POST", "/servers", create_server),
    Route("GET", "/servers/{id}", get_server),
    Route("DELETE", "/servers/{id}", delete_server),
    Route("POST", "/servers/{id}/actions/poweroff", power(on=False)),
    Route("POST", "/servers/{id}/actions/poweron", power(on=True)),
    Route("GET", "/servers/{id}/actions/{action_id}", get_server_action),
    Route("GET", "/servers/actions/{id}", get_any_server_action),
    Route("GET", "/actions/{id}", get_action),
    Route("GET", "/ssh_keys", list_ssh_keys),
    Route("POST", "/ssh_keys", create_ssh_key),
    Route("GET", "/ssh_keys/{id}", get_ssh_key),
    Route("DELETE", "/ssh_keys/{id}", delete_ssh_key),
    Route("GET", "/firewalls", list_firewalls),
    Route("POST", "/firewalls", create_firewall),
    Route("GET", "/firewalls/{id}", get_firewall),
    Route("DELETE", "/firewalls/{id}", delete_firewall),
]


def resolve(method: str, path: str) -> tuple[Route, dict[str, int]] | None:
    """Find the route for a concrete path (without the ``/v1`` prefix)."""
    for route in ROUTES:
        if route.method == method and (match := route.pattern.match(path)):
            return route, {k: int(v) for k, v in match.groupdict().items()}
    return None
