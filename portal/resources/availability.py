"""Is what a request asks for still orderable? One check per resource kind, run before a request is saved.

The SELECT options already leave out what is offered nowhere; this catches combinations the options
cannot see one input at a time (a server type deprecated in the chosen location). It runs from a
``pre_save`` receiver so every way in (form, API, CLI) is covered while the requests app stays unaware
of providers, and raises ``InputsInvalid`` keyed by input, which every caller already turns into a
field error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.flowmodel.input_options import OptionsUnavailable
from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.flowmodel.task_api import StepError
from orchestrator.plugins.hcloud import tasks
from portal.catalog.models import CatalogFlow
from portal.requests.models import ResourceRequest

from .selectors import live_resource_named
from .services import OPEN_REQUEST_STATES, RESOURCE_LABEL


def _hcloud_server(values: dict[str, Any]) -> dict[str, str]:
    server_type, location = values.get("server_type"), values.get("location")
    if not server_type:
        return {}
    try:
        reason = tasks.unavailable_reason(str(server_type), str(location) if location else None)
    except (StepError, OptionsUnavailable):
        return {}  # no catalogue (API down): the options check has already said so
    return {"server_type": reason} if reason else {}


CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, str]]] = {"hcloud-server": _hcloud_server}


def problems(kind: str | None, values: dict[str, Any]) -> dict[str, str]:
    """Input id → why the ``kind`` resource described by ``values`` cannot be ordered (empty: it can)."""
    check = CHECKS.get(kind or "")
    return check(values) if check else {}


def name_taken(kind: str | None, name: Any) -> str | None:
    """Why ``name`` cannot name a new ``kind`` resource: a live one, or an open request, already uses it.

    A name is what a person recognises a server by (and what providers keep unique), so two live ones
    never share it; the message does not say whose it is.
    """
    if not kind or not isinstance(name, str) or not name:
        return None
    if live_resource_named(kind, name) is not None:
        return f"a live {kind} is already named '{name}': choose another name"
    flows = [flow.pk for flow in CatalogFlow.objects.all() if (flow.labels or {}).get(RESOURCE_LABEL) == kind]
    pending = ResourceRequest.objects.filter(
        catalog_flow__in=flows, inputs__name=name, state__in=OPEN_REQUEST_STATES
    ).exists()
    return f"another open request already asks for a {kind} named '{name}'" if pending else None


def check_request(request: Any) -> None:
    """Refuse a new request for something the provider no longer offers, or under a name in use."""
    kind = (request.catalog_flow.labels or {}).get(RESOURCE_LABEL)
    found = problems(kind, request.inputs or {})
    if taken := name_taken(kind, (request.inputs or {}).get("name")):
        found = {**found, "name": taken}
    if found:
        raise InputsInvalid(found)
