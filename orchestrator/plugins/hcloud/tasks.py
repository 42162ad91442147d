"""Hetzner Cloud task types on the official ``hcloud`` SDK, plus the cached catalogue behind form options.

The API token is configuration, not flow data: it comes from ``settings.HCLOUD_TOKEN`` (env
``HCLOUD_TOKEN``), is registered for masking before any call, and no task property can carry it.
``HCLOUD_ENDPOINT`` points the SDK elsewhere (the local fake in tests and ``make up``).

Failures are classified once, in ``step_error``: rate limits, 5xx, timeouts and lost connections are
worth another attempt (``permanent=False``, under the task's retry policy); a rejected request
(``invalid_input``, ``resource_unavailable``, ``uniqueness_error``...) is not, and says why.
Create is idempotent: a retried create finds the server its earlier attempt made (same name, same
execution label) instead of failing on the name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
import warnings
from decimal import Decimal
from typing import Any

import hcloud
import requests
from django.conf import settings
from django.core.cache import cache
from hcloud.actions import ActionFailedException, ActionTimeoutException, BoundAction
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.flowmodel import input_options, masking
from orchestrator.flowmodel.task_api import RunContext, StepError, register

DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1"
CATALOGUE_TTL = 600  # seconds: types, images and prices change rarely; a form must not wait on the API
RETRYABLE_CODES = {
    "rate_limit_exceeded",
    "conflict",
    "timeout",
    "bad_gateway",
    "unavailable",
    "server_error",
    "locked",
    "maintenance",
}
_LABEL_VALUE_BAD = re.compile(r"[^a-zA-Z0-9._-]")
EXECUTION_LABEL = "portico-execution"
SERVER_LABEL = "portico-server"


# -- client and errors -------------------------------------------------------------------------------


def token() -> str:
    value = getattr(settings, "HCLOUD_TOKEN", "") or ""
    if not value:
        raise StepError("HCLOUD_TOKEN is not configured: set it in the worker's environment, never in a flow")
    masking.register_secrets([value])
    return value


def endpoint() -> str:
    return getattr(settings, "HCLOUD_ENDPOINT", "") or DEFAULT_ENDPOINT


def client() -> hcloud.Client:
    """An SDK client from settings; its own retries are capped so the flow's retry policy decides."""
    api = endpoint()
    kwargs: dict[str, Any] = {}
    if api != DEFAULT_ENDPOINT:
        kwargs["api_endpoint_hetzner"] = api  # nothing may leak to the real API when pointed elsewhere
    made = hcloud.Client(
        token=token(),
        api_endpoint=api,
        application_name="portico",
        poll_interval=float(getattr(settings, "HCLOUD_POLL_INTERVAL", 1.0)),
        timeout=float(getattr(settings, "HCLOUD_TIMEOUT", 30.0)),
        **kwargs,
    )
    retries = int(getattr(settings, "HCLOUD_SDK_RETRIES", 2))
    for base in (made._client, getattr(made, "_client_hetzner", None)):  # no public knob for this
        if base is not None and hasattr(base, "_retry_max_retries"):
            base._retry_max_retries = retries
    return made


def _field_problems(details: Any) -> str:
    fields = (details or {}).get("fields") if isinstance(details, dict) else None
    parts = []
    for item in fields or []:
        messages = ", ".join(item.get("messages") or []) or "invalid"
        parts.append(f"{item.get('name')}: {messages}")
    return "; ".join(parts)


def step_error(exc: Exception, doing: str) -> StepError:
    """One rule for what a failure means: ``doing`` says what we tried ("create server web-1")."""
    if isinstance(exc, hcloud.APIException):
        code = exc.code
        retryable = code in RETRYABLE_CODES if isinstance(code, str) else int(code) == 429 or int(code) >= 500
        message = f"{doing}: Hetzner API error {code}: {exc.message}"
        if problems := _field_problems(exc.details):
            message += f" ({problems})"
        if code == "resource_unavailable":
            message += " — choose another server type or location"
        if exc.correlation_id:
            message += f" [correlation id {exc.correlation_id}]"
        return StepError(masking.mask(message), permanent=not retryable)
    if isinstance(exc, ActionFailedException):
        error = getattr(exc.action, "error", None) or {}
        detail = error.get("message") if isinstance(error, dict) else str(error)
        return StepError(f"{doing}: action '{exc.action.command}' failed: {detail or 'no reason given'}")
    if isinstance(exc, ActionTimeoutException | requests.exceptions.Timeout):
        return StepError(f"{doing}: timed out waiting for the Hetzner API", permanent=False)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return StepError(f"{doing}: cannot reach the Hetzner API at {endpoint()}", permanent=False)
    return StepError(masking.mask(f"{doing}: {exc}"))


def wait(action: BoundAction, ctx: RunContext, *, timeout: float | None = None) -> None:
    """Poll an action with the engine's cooperative sleep (a kill or timeout interrupts it)."""
    limit = timeout if timeout is not None else float(getattr(settings, "HCLOUD_ACTION_TIMEOUT", 600.0))
    deadline = time.monotonic() + limit
    interval = float(getattr(settings, "HCLOUD_POLL_INTERVAL", 1.0))
    while action.status == "running":
        if time.monotonic() > deadline:
            raise ActionTimeoutException(action=action)
        ctx.sleep(interval)
        action.reload()
    if action.status == "error":
        raise ActionFailedException(action=action)


def label_value(value: Any) -> str:
    """Hetzner label values: ≤ 63 of [a-zA-Z0-9._-], alphanumeric at both ends."""
    text = _LABEL_VALUE_BAD.sub("-", str(value))[:63]
    return text.strip("-_.")


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint Hetzner shows for an OpenSSH public key."""
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (IndexError, binascii.Error, ValueError):
        raise StepError("sshPublicKey is not an OpenSSH public key ('<type> <base64> [comment]')") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


# -- task types --------------------------------------------------------------------------------------


class Props(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CreateServerProps(Props):
    name: str
    serverType: str  # noqa: N815
    image: str
    location: str | None = None
    sshPublicKey: str | None = None  # noqa: N815
    labels: dict[str, str] = Field(default_factory=dict)


class ServerProps(Props):
    """Which server: its id (what CreateServer returned), or its name; given both, the server with that
    id must bear that name (a recycled or mistyped id never touches someone else's server)."""

    serverId: int | None = None  # noqa: N815
    name: str | None = None

    def describe(self) -> str:
        return f"server {self.serverId}" if self.serverId is not None else f"server '{self.name}'"


def server_outputs(server: Any) -> dict[str, Any]:
    place = getattr(server, "location", None)  # hcloud ≥ 2.x; older releases only had datacenter.location
    location = place.name if place is not None else None
    price = price_for(server.server_type.name, location) if location else None
    net = server.public_net
    return {
        "server_id": server.id,
        "name": server.name,
        "status": server.status,
        "ipv4": net.ipv4.ip if net and net.ipv4 else None,
        "ipv6": net.ipv6.ip if net and net.ipv6 else None,
        "server_type": server.server_type.name,
        "image": server.image.name if server.image else None,
        "location": location,
        "monthly_price": str(price["monthly"]) if price else None,
        "hourly_price": str(price["hourly"]) if price else None,
        "labels": dict(server.labels or {}),
    }


def _ssh_key(api: hcloud.Client, props: CreateServerProps, labels: dict[str, str]) -> Any:
    """The server's SSH key: reuse one with the same fingerprint, else create one labelled for cleanup."""
    assert props.sshPublicKey is not None
    existing = api.ssh_keys.get_by_fingerprint(fingerprint(props.sshPublicKey))
    if existing is not None:
        return existing
    return api.ssh_keys.create(name=f"{props.name}-key", public_key=props.sshPublicKey, labels=labels)


@register("portico.hcloud.CreateServer", props=CreateServerProps)
def run_create_server(props: CreateServerProps, ctx: RunContext) -> dict[str, Any]:
    doing = f"create server '{props.name}'"
    labels = {k: label_value(v) for k, v in props.labels.items()}
    labels.update({"managed-by": "portico", EXECUTION_LABEL: ctx.execution_id, SERVER_LABEL: props.name})
    try:
        api = client()
        found = api.servers.get_by_name(props.name)
        if found is not None:
            if (found.labels or {}).get(EXECUTION_LABEL) != ctx.execution_id:
                raise StepError(f"{doing}: a server with this name already exists (id {found.id})")
            ctx.log("INFO", f"server {found.id} already created by an earlier attempt; adopting it")
            ctx.created(provider_id=str(found.id), name=props.name)
            server = found
        else:
            keys = [_ssh_key(api, props, labels)] if props.sshPublicKey else None
            response = api.servers.create(
                name=props.name,
                server_type=ServerType(name=props.serverType),
                image=Image(name=props.image),
                location=Location(name=props.location) if props.location else None,
                ssh_keys=keys,
                labels=labels,
            )
            # Recorded before anything else can fail: a kill from here on leaves a known server.
            ctx.created(provider_id=str(response.server.id), name=props.name)
            ctx.log("INFO", f"server {response.server.id} ({props.name}) created; waiting until it runs")
            for action in [response.action, *(response.next_actions or [])]:
                wait(action, ctx)
            server = response.server
        server.reload()
    except StepError:
        raise
    except Exception as exc:
        raise step_error(exc, doing) from exc
    out = server_outputs(server)
    ctx.log("INFO", f"server {out['server_id']} is {out['status']} at {out['ipv4']}")
    return out


def _find(api: hcloud.Client, props: ServerProps) -> Any:
    if props.serverId is None and not props.name:
        raise StepError("give serverId or name")
    if props.serverId is not None:
        try:
            server = api.servers.get_by_id(props.serverId)
        except hcloud.APIException as exc:
            if exc.code == "not_found":
                return None
            raise
        if props.name and server.name != props.name:
            raise StepError(
                f"server {props.serverId} is named '{server.name}', not '{props.name}': refusing to touch it"
            )
        return server
    return api.servers.get_by_name(props.name or "")


@register("portico.hcloud.DeleteServer", props=ServerProps)
def run_delete_server(props: ServerProps, ctx: RunContext) -> dict[str, Any]:
    """Delete the server and the SSH keys Portico made for it; a server already gone is success."""
    doing = f"delete {props.describe()}"
    try:
        api = client()
        server = _find(api, props)
        name = server.name if server is not None else props.name
        if server is None:
            ctx.log("WARN", f"{props.describe()} does not exist (already deleted)")
        else:
            wait(api.servers.delete(server), ctx)
            ctx.log("INFO", f"server {server.id} ({server.name}) deleted")
        keys = api.ssh_keys.get_all(label_selector=f"{SERVER_LABEL}={label_value(name)}") if name else []
        for key in keys:
            api.ssh_keys.delete(key)
            ctx.log("INFO", f"SSH key {key.name} deleted")
    except StepError:
        raise
    except Exception as exc:
        raise step_error(exc, doing) from exc
    return {
        "server_id": server.id if server is not None else props.serverId,
        "deleted": server is not None,
        "ssh_keys_deleted": len(keys),
    }


def _power(props: ServerProps, ctx: RunContext, on: bool) -> dict[str, Any]:
    doing = f"power {'on' if on else 'off'} {props.describe()}"
    try:
        api = client()
        server = _find(api, props)
        if server is None:
            raise StepError(f"{doing}: no such server")
        wait(api.servers.power_on(server) if on else api.servers.power_off(server), ctx)
        server.reload()
    except StepError:
        raise
    except Exception as exc:
        raise step_error(exc, doing) from exc
    ctx.log("INFO", f"server {server.id} is {server.status}")
    return {"server_id": server.id, "status": server.status}


@register("portico.hcloud.PowerOff", props=ServerProps)
def run_power_off(props: ServerProps, ctx: RunContext) -> dict[str, Any]:
    return _power(props, ctx, on=False)


@register("portico.hcloud.PowerOn", props=ServerProps)
def run_power_on(props: ServerProps, ctx: RunContext) -> dict[str, Any]:
    return _power(props, ctx, on=True)


# -- catalogue (cached): form options and prices -----------------------------------------------------


def _cached(kind: str, load: Any) -> Any:
    key = f"portico:hcloud:{kind}:{hashlib.sha256(endpoint().encode()).hexdigest()[:12]}"
    value = cache.get(key)
    if value is None:
        try:
            value = load(client())
        except StepError:
            raise
        except Exception as exc:
            raise step_error(exc, f"list {kind}") from exc
        cache.set(key, value, CATALOGUE_TTL)  # failures are not cached: the next form asks again
    return value


def _deprecations(item: ServerType) -> dict[str, str]:
    """Locations where ``item`` is deprecated → its ``unavailable_after`` (ISO, or "" if not given).

    Newer schemas mark deprecation per location (``locations[].deprecation``); the older type-wide
    ``deprecation`` (still sent, and warned about by the SDK) means every location.
    """
    places = getattr(item, "locations", None) or []
    found = {
        place.location.name: _when(place.deprecation) for place in places if place.deprecation is not None
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        everywhere = getattr(item, "deprecation", None)
    if everywhere is not None:
        for name in [p["location"] for p in item.prices or []] + [p.location.name for p in places]:
            found.setdefault(name, _when(everywhere))
    return found


def _when(deprecation: Any) -> str:
    moment = getattr(deprecation, "unavailable_after", None)
    return moment.isoformat() if moment is not None else ""


def _load_server_types(api: hcloud.Client) -> list[dict[str, Any]]:
    types = []
    for item in api.server_types.get_all():
        prices = {
            p["location"]: {"hourly": p["price_hourly"]["net"], "monthly": p["price_monthly"]["net"]}
            for p in item.prices or []
        }
        types.append(
            {
                "name": item.name,
                "cores": item.cores,
                "memory": item.memory,
                "disk": item.disk,
                "architecture": item.architecture,
                "prices": prices,
                "deprecated": _deprecations(item),
            }
        )
    return types


def server_types() -> list[dict[str, Any]]:
    """Current server types with net EUR prices and deprecations per location (strings, for Decimal)."""
    return _cached("server_types", _load_server_types)


def offered_in(server_type: dict[str, Any]) -> list[str]:
    """Locations where a server type (an item of ``server_types()``) can still be ordered."""
    return [loc for loc in server_type["prices"] if loc not in server_type.get("deprecated", {})]


def unavailable_reason(server_type: str, location: str | None) -> str | None:
    """Why ``server_type`` cannot be ordered (in ``location``), or None if it can (or is unknown here:
    the SELECT options already refuse unknown names)."""
    item = next((t for t in server_types() if t["name"] == server_type), None)
    if item is None:
        return None
    deprecated = item.get("deprecated", {})
    if location and location in deprecated:
        until = deprecated[location][:10]
        when = f" (unavailable after {until})" if until else ""
        elsewhere = ", ".join(offered_in(item))
        hint = f"; still offered in {elsewhere}" if elsewhere else ""
        return f"server type {server_type} is deprecated in {location}{when}{hint}: choose another"
    if location and location not in item["prices"]:
        return f"server type {server_type} is not offered in {location}"
    if not offered_in(item):
        return f"server type {server_type} is deprecated in every location: choose another"
    return None


def images() -> list[dict[str, Any]]:
    def load(api: hcloud.Client) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        # Status is filtered here: hcloud 2.27's images.get_all sends per_page as ``status`` (the fake's
        # schema check caught it), so only ``type`` goes to the API.
        for item in api.images.get_all(type=["system"]):
            if item.status != "available":
                continue
            entry = seen.setdefault(item.name, {"name": item.name, "description": item.description})
            entry.setdefault("arch", [])
            entry["arch"].append(item.architecture)
        return sorted(seen.values(), key=lambda i: i["name"])

    return _cached("images", load)


def locations() -> list[dict[str, Any]]:
    def load(api: hcloud.Client) -> list[dict[str, Any]]:
        return [
            {"name": loc.name, "city": loc.city, "country": loc.country, "description": loc.description}
            for loc in api.locations.get_all()
        ]

    return _cached("locations", load)


def price_for(server_type: str, location: str | None) -> dict[str, Any] | None:
    """``{"hourly": Decimal, "monthly": Decimal, "currency": "EUR"}`` or None if not offered there."""
    for item in server_types():
        if item["name"] == server_type:
            price = item["prices"].get(location) if location else None
            if price is None:
                return None
            hourly, monthly = Decimal(price["hourly"]), Decimal(price["monthly"])
            return {"hourly": hourly, "monthly": monthly, "currency": "EUR"}
    return None


def deprecation_note(server_type: dict[str, Any]) -> str:
    """A label suffix like 'deprecated in fsn1, nbg1 (unavailable after 2025-09-01)' for a type some
    locations retire, so the dropdown warns before the choice is refused (``unavailable_reason``)."""
    deprecated = server_type.get("deprecated") or {}
    if not deprecated:
        return ""
    by_date: dict[str, list[str]] = {}
    for location, until in sorted(deprecated.items()):
        by_date.setdefault(str(until)[:10], []).append(location)
    parts = [
        f"{', '.join(places)}{f' (unavailable after {until})' if until else ''}"
        for until, places in sorted(by_date.items())
    ]
    return f"deprecated in {'; '.join(parts)}"


@input_options.register("hcloud.server_types")
def server_type_options() -> list[input_options.Option]:
    options = []
    for t in server_types():
        if not offered_in(t):  # a type deprecated everywhere is not offered at all
            continue
        label = f"{t['name']} — {t['cores']} vCPU, {t['memory']:g} GB RAM, {t['disk']} GB disk"
        note = deprecation_note(t)
        options.append((t["name"], f"{label} — {note}" if note else label))
    return options


@input_options.register("hcloud.images")
def image_options() -> list[input_options.Option]:
    return [(i["name"], i["description"] or i["name"]) for i in images()]


@input_options.register("hcloud.locations")
def location_options() -> list[input_options.Option]:
    return [(loc["name"], f"{loc['name']} — {loc['city']} ({loc['country']})") for loc in locations()]
