"""In-memory state of one fake Hetzner project: catalogue, servers, SSH keys, firewalls, actions.

Answers are built on read so cross-references (a firewall's ``applied_to``, a server's
``public_net.firewalls``) always agree, as they do on the real API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from hcloud_fake import seed
from hcloud_fake.actions import Action, ActionBook, now_iso

HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(|[a-z0-9A-Z]|[a-z0-9A-Z][a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])$")
LABEL_KEY = re.compile(r"^([a-z0-9A-Z.-]{1,253}/)?[a-z0-9A-Z]([a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])?$")


class ApiError(Exception):
    """An error answer: HTTP status plus the API's ``{"error": {code, message, details}}`` body."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid_input(field_name: str, message: str) -> ApiError:
    return ApiError(
        400,
        "invalid_input",
        f"invalid input in field '{field_name}'",
        {"fields": [{"name": field_name, "messages": [message]}]},
    )


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{kind} with ID '{ident}' not found")


def check_labels(labels: object) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise invalid_input("labels", "must be an object")
    for key, value in labels.items():
        if not LABEL_KEY.match(str(key)) or not isinstance(value, str) or not LABEL_VALUE.match(value):
            raise invalid_input("labels", f"label {key}={value!r} is not valid")
    return dict(labels)


@dataclass
class ServerRecord:
    id: int
    name: str
    server_type: dict[str, Any]
    image: dict[str, Any]
    datacenter: dict[str, Any]
    labels: dict[str, str]
    ipv4: str
    ipv6: str
    status: str = "initializing"
    firewall_ids: list[int] = field(default_factory=list)
    created: str = field(default_factory=now_iso)


class Cloud:
    """One project's worth of resources behind one lock (the HTTP server is threaded)."""

    def __init__(self, *, action_polls: int = 1, action_seconds: float | None = None):
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.actions = ActionBook(self.lock, polls=action_polls, seconds=action_seconds, ids=self._ids)
        self.server_types = seed.server_types()
        self.images = seed.images()
        self.locations = seed.locations()
        self.datacenters = seed.datacenters()
        self.servers: dict[int, ServerRecord] = {}
        self.ssh_keys: dict[int, dict[str, Any]] = {}
        self.firewalls: dict[int, dict[str, Any]] = {}
        self._hosts = itertools.count(10)

    # -- catalogue --

    def find(self, items: list[dict[str, Any]], kind: str, id_or_name: object) -> dict[str, Any]:
        for item in items:
            if str(item["id"]) == str(id_or_name) or item["name"] == id_or_name:
                return item
        raise invalid_input(kind, f"{kind} {id_or_name!r} not found")

    def by_id(self, items: list[dict[str, Any]], kind: str, ident: int) -> dict[str, Any]:
        for item in items:
            if item["id"] == ident:
                return item
        raise not_found(kind, ident)

    # -- servers --

    def server_json(self, rec: ServerRecord) -> dict[str, Any]:
        location = rec.datacenter["location"]
        price = next(p for p in rec.server_type["prices"] if p["location"] == location["name"])
        octets = rec.ipv4.split(".")
        return {
            "id": rec.id,
            "name": rec.name,
            "status": rec.status,
            "created": rec.created,
            "labels": dict(rec.labels),
            "server_type": rec.server_type,
            "image": rec.image,
            "datacenter": rec.datacenter,
            "location": location,
            "public_net": {
                "ipv4": {
                    "id": rec.id * 10 + 4,
                    "ip": rec.ipv4,
                    "blocked": False,
                    "dns_ptr": f"static.{'.'.join(reversed(octets))}.clients.your-server.de",
                },
                "ipv6": {"id": rec.id * 10 + 6, "ip": rec.ipv6, "blocked": False, "dns_ptr": []},
                "floating_ips": [],
                "firewalls": [{"id": fid, "status": "applied"} for fid in rec.firewall_ids],
            },
            "private_net": [],
            "backup_window": None,
            "rescue_enabled": False,
            "locked": False,
            "iso": None,
            "protection": {"delete": False, "rebuild": False},
            "included_traffic": price["included_traffic"],
            "ingoing_traffic": 0,
            "outgoing_traffic": 0,
            "primary_disk_size": rec.server_type["disk"],
            "load_balancers": [],
            "volumes": [],
            "placement_group": None,
        }

    def server(self, server_id: int) -> ServerRecord:
        rec = self.servers.get(server_id)
        if rec is None:
            raise not_found("server", server_id)
        return rec

    def _place(self, body: dict[str, Any], server_type: dict[str, Any]) -> dict[str, Any]:
        if body.get("location") is not None:
            loc = self.find(self.locations, "location", body["location"])
            return next(dc for dc in self.datacenters if dc["location"]["id"] == loc["id"])
        if body.get("datacenter") is not None:
            return self.find(self.datacenters, "datacenter", body["datacenter"])
        offered = {p["location"] for p in server_type["prices"]}
        return next(dc for dc in self.datacenters if dc["location"]["name"] in offered)

    def create_server(self, body: dict[str, Any]) -> tuple[ServerRecord, Action, list[Action], str | None]:
        name = body.get("name")
        if not isinstance(name, str) or not HOSTNAME.match(name):
            raise invalid_input("name", "must be a valid hostname (RFC 1123)")
        for field_name in ("server_type", "image"):
            if not body.get(field_name):
                raise invalid_input(field_name, "Missing data for required field.")
        if any(rec.name == name for rec in self.servers.values()):
            raise ApiError(
                409, "uniqueness_error", "server name is already used", {"fields": [{"name": "name"}]}
            )
        server_type = self.find(self.server_types, "server_type", body["server_type"])
        image = self._image_for(body["image"], server_type["architecture"])
        datacenter = self._place(body, server_type)
        if server_type["id"] not in datacenter["server_types"]["available"]:
            raise ApiError(
                412,
                "resource_unavailable",
                f"server type {server_type['name']} is unavailable in {datacenter['location']['name']}",
            )
        key_ids = [
            self.find(list(self.ssh_keys.values()), "ssh_keys", k)["id"] for k in body.get("ssh_keys", [])
        ]
        firewall_ids = []
        for entry in body.get("firewalls", []):
            firewall_ids.append(
                self.find(list(self.firewalls.values()), "firewalls", entry.get("firewall"))["id"]
            )
        host = next(self._hosts)
        rec = ServerRecord(
            id=next(self._ids),
            name=name,
            server_type=server_type,
            image=image,
            datacenter=datacenter,
            labels=check_labels(body.get("labels")),
            ipv4=f"203.0.113.{host % 250 + 1}",
            ipv6=f"2001:db8:{host:x}::/64",
            firewall_ids=firewall_ids,
        )
        self.servers[rec.id] = rec
        for fid in firewall_ids:
            self.firewalls[fid]["applied_to"].append({"type": "server", "server": {"id": rec.id}})
        start = body.get("start_after_create", True)
        action = self.actions.start(
            "create_server",
            [("server", rec.id)],
            lambda: setattr(rec, "status", "running" if start else "off"),
        )
        next_actions = []
        if start:
            next_actions.append(
                self.actions.start(
                    "start_server", [("server", rec.id)], lambda: setattr(rec, "status", "running")
                )
            )
        password = None if key_ids else secrets.token_urlsafe(15)
        return rec, action, next_actions, password

    def _image_for(self, id_or_name: object, architecture: str) -> dict[str, Any]:
        candidates = [i for i in self.images if str(i["id"]) == str(id_or_name)]
        candidates += [
            i for i in self.images if i["name"] == id_or_name and i["architecture"] == architecture
        ]
        if not candidates:
            raise invalid_input("image", f"image {id_or_name!r} not found for architecture {architecture}")
        return candidates[0]

    def power(self, server_id: int, on: bool) -> Action:
        rec = self.server(server_id)
        target = "running" if on else "off"
        return self.actions.start(
            "start_server" if on else "stop_server",
            [("server", rec.id)],
            lambda: setattr(rec, "status", target),
        )

    def delete_server(self, server_id: int) -> Action:
        rec = self.server(server_id)
        rec.status = "deleting"

        def gone() -> None:
            self.servers.pop(rec.id, None)
            for fw in self.firewalls.values():
                fw["applied_to"] = [a for a in fw["applied_to"] if a.get("server", {}).get("id") != rec.id]

        return self.actions.start("delete_server", [("server", rec.id)], gone)

    # -- SSH keys and firewalls --

    def create_ssh_key(self, body: dict[str, Any]) -> dict[str, Any]:
        name, public_key = body.get("name"), body.get("public_key")
        if not isinstance(name, str) or not name:
            raise invalid_input("name", "Missing data for required field.")
        parts = str(public_key or "").split()
        try:
            blob = base64.b64decode(parts[1], validate=True) if len(parts) >= 2 else b""
        except (binascii.Error, ValueError):
            blob = b""
        if not blob:
            raise invalid_input("public_key", "invalid public key")
        digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
        fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
        for key in self.ssh_keys.values():
            if key["name"] == name or key["fingerprint"] == fingerprint:
                raise ApiError(
                    409,
                    "uniqueness_error",
                    "SSH key with the same fingerprint or name already exists",
                    {"fields": [{"name": "name" if key["name"] == name else "public_key"}]},
                )
        key = {
            "id": next(self._ids),
            "name": name,
            "fingerprint": fingerprint,
            "public_key": public_key,
            "labels": check_labels(body.get("labels")),
            "created": now_iso(),
        }
        self.ssh_keys[key["id"]] = key
        return key

    def create_firewall(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[Action]]:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_input("name", "Missing data for required field.")
        if any(fw["name"] == name for fw in self.firewalls.values()):
            raise ApiError(
                409, "uniqueness_error", "firewall name is already used", {"fields": [{"name": "name"}]}
            )
        rules = [
            {
                "direction": r["direction"],
                "protocol": r["protocol"],
                "port": r.get("port"),
                "source_ips": r.get("source_ips", []),
                "destination_ips": r.get("destination_ips", []),
                "description": r.get("description"),
            }
            for r in body.get("rules", [])
        ]
        fw = {
            "id": next(self._ids),
            "name": name,
            "labels": check_labels(body.get("labels")),
            "created": now_iso(),
            "rules": rules,
            "applied_to": [],
        }
        self.firewalls[fw["id"]] = fw
        actions = [self.actions.start("set_firewall_rules", [("firewall", fw["id"])])]
        for target in body.get("apply_to", []):
            if target.get("type") == "server":
                rec = self.server(int(target["server"]["id"]))
                rec.firewall_ids.append(fw["id"])
                fw["applied_to"].append({"type": "server", "server": {"id": rec.id}})
                actions.append(
                    self.actions.start("apply_firewall", [("server", rec.id), ("firewall", fw["id"])])
                )
            else:
                fw["applied_to"].append(
                    {"type": "label_selector", "label_selector": target["label_selector"]}
                )
        return fw, actions

    def delete_firewall(self, firewall_id: int) -> None:
        fw = self.firewalls.get(firewall_id)
        if fw is None:
            raise not_found("firewall", firewall_id)
        if any(a["type"] == "server" for a in fw["applied_to"]):
            raise ApiError(422, "resource_in_use", "firewall is still applied to a resource")
        del self.firewalls[firewall_id]
