"""The drift sweep: Portico's inventory compared with what the providers really hold (celery beat).

Two providers are read: the Hetzner API (servers Portico labelled ``managed-by=portico``; resources made
through the API have a provider id and no Terraform state) and Portico's Terraform states (resources
made with Terraform have a state key). What it finds:

- **missing**: a live resource whose server or state is gone (deleted outside Portico) → ATTENTION;
- **still there**: a destroyed resource whose server or state still holds something → ATTENTION;
- **orphans**: a server or state no resource records. When the server's execution label leads to a
  request with no resource yet (a run that died before announcing it), the resource is recorded now, in
  ATTENTION, for its owner; otherwise it is audited once a day as unowned, for the admins.

A provider that cannot be listed flags nothing: an outage must not look like everything was deleted.
Each finding is audited and told to the owner once (``mark_attention`` skips a resource already
flagged for the same reason).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from orchestrator.plugins.hcloud import tasks as hcloud_tasks
from orchestrator.plugins.terraform import state_location
from orchestrator.state.models import Execution
from portal.audit import services as audit
from portal.requests import links

from .models import Resource, ResourceState
from .services import mark_attention, record_provisioning

logger = logging.getLogger(__name__)

CHECKED_STATES = (ResourceState.RUNNING, ResourceState.OFF)
_ORPHAN_MEMORY = 86400  # seconds: an unowned orphan is audited once a day, not at every sweep


@dataclass
class SweepReport:
    checked: list[int] = field(default_factory=list)  # resources found where Portico says they are
    flagged: list[int] = field(default_factory=list)  # resources moved to ATTENTION by this sweep
    unowned: list[str] = field(default_factory=list)  # "hcloud:<id>" / "terraform:<key>" nobody owns
    errors: list[str] = field(default_factory=list)  # providers that could not be listed

    def as_dict(self) -> dict[str, list[Any]]:
        return {k: list(v) for k, v in self.__dict__.items()}


def _flag(resource_id: int, why: str, report: SweepReport, **details: Any) -> None:
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource_id)
        if resource.state == ResourceState.ATTENTION and resource.attention == why:
            return  # already told
        mark_attention(resource, why, event="resource.drift_found", details=details)
    report.flagged.append(resource_id)


def _checked(ids: list[int], report: SweepReport) -> None:
    Resource.objects.filter(pk__in=ids).update(checked_at=timezone.now())
    report.checked.extend(ids)


def _unowned(what: str, report: SweepReport, **details: Any) -> None:
    report.unowned.append(what)
    if cache.add(f"portico:drift:unowned:{what}", 1, _ORPHAN_MEMORY):
        logger.warning("drift sweep: %s exists at the provider and no resource records it", what)
        audit.record("provider.orphan_found", details={"what": what, **details})


# -- Hetzner API ---------------------------------------------------------------------------------------


def _adopt(server: Any, report: SweepReport) -> bool:
    """Record an orphan server for the request its execution label leads to, if that request has none."""
    execution_id = str((server.labels or {}).get(hcloud_tasks.EXECUTION_LABEL) or "")
    execution = Execution.objects.filter(pk=execution_id).first() if _is_uuid(execution_id) else None
    if execution is None:
        return False
    with transaction.atomic():
        request = links.request_of(execution)
        if request is None or Resource.objects.filter(request=request).exists():
            return False
        resource = record_provisioning(
            execution, provider_id=str(server.id), state_key="", name=server.name, details={}
        )
    if resource is None:
        return False
    _flag(
        resource.pk,
        f"Server {server.id} was found at Hetzner, made by your request #{request.pk}, but the run that "
        "made it never reported it: it costs money. Destroy it, or ask an admin to check it.",
        report,
        provider_id=str(server.id),
    )
    return True


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def sweep_hcloud(report: SweepReport) -> None:
    if not getattr(settings, "HCLOUD_TOKEN", ""):
        return  # no API configured: nothing Portico made can be there
    try:
        servers = {
            str(s.id): s for s in hcloud_tasks.client().servers.get_all(label_selector="managed-by=portico")
        }
    except Exception as exc:  # noqa: BLE001 - any failure to list means "do not judge"
        report.errors.append(f"hcloud: {exc}")
        logger.warning("drift sweep: cannot list Hetzner servers: %s", exc)
        return
    ours = Resource.objects.filter(state_key="").exclude(provider_id="")
    known = set(ours.values_list("provider_id", flat=True))
    present = []
    for pk, provider_id in ours.filter(state__in=CHECKED_STATES).values_list("pk", "provider_id"):
        if provider_id in servers:
            present.append(pk)
        else:
            _flag(
                pk,
                f"Server {provider_id} no longer exists at Hetzner: it was deleted outside Portico. If "
                "that was intended, destroy it here to close the record.",
                report,
                provider_id=provider_id,
            )
    _checked(present, report)
    for pk, provider_id in ours.filter(state=ResourceState.DESTROYED).values_list("pk", "provider_id"):
        if provider_id in servers:
            _flag(
                pk,
                f"Server {provider_id} still exists at Hetzner although Portico destroyed it: it costs "
                "money. Destroy it again.",
                report,
                provider_id=provider_id,
            )
    for provider_id, server in servers.items():
        if provider_id not in known and not _adopt(server, report):
            _unowned(f"hcloud:{provider_id}", report, name=server.name)


# -- Terraform states ----------------------------------------------------------------------------------


def sweep_terraform(report: SweepReport) -> None:
    try:
        held = {state.key: state for state in state_location.held_states()}
    except Exception as exc:  # noqa: BLE001
        report.errors.append(f"terraform: {exc}")
        logger.warning("drift sweep: cannot list Terraform states: %s", exc)
        return
    ours = Resource.objects.exclude(state_key="")
    known = set(ours.exclude(state=ResourceState.DESTROYED).values_list("state_key", flat=True))
    present = []
    for pk, key in ours.filter(state__in=CHECKED_STATES).values_list("pk", "state_key"):
        state = held.get(key)
        if state is not None and state.resources != 0:
            present.append(pk)
            continue
        _flag(
            pk,
            f"Its Terraform state {key} holds nothing: it was destroyed outside Portico. If that was "
            "intended, destroy it here to close the record.",
            report,
            state_key=key,
        )
    _checked(present, report)
    for pk, key in ours.filter(state=ResourceState.DESTROYED).values_list("pk", "state_key"):
        state = held.get(key)
        if state is not None and state.resources > 0 and key not in known:
            _flag(
                pk,
                f"Its Terraform state {key} still holds {state.resources} resource(s) although Portico "
                "destroyed it. Destroy it again.",
                report,
                state_key=key,
            )
            known.add(key)
    destroyed = set(ours.filter(state=ResourceState.DESTROYED).values_list("state_key", flat=True))
    for key, state in held.items():
        if state.resources > 0 and key not in known and key not in destroyed:
            _unowned(f"terraform:{key}", report, module=state.module, resources=state.resources)


def sweep() -> SweepReport:
    """Compare the inventory with every provider; what it flags is audited and told to the owner."""
    report = SweepReport()
    sweep_hcloud(report)
    sweep_terraform(report)
    return report
