"""Prices of what a flow will create, from the provider's own (cached) price list.

One function per resource kind (a creating flow's ``portico.resource`` label); the form's live
estimate, the approval queue and the resource record all ask here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orchestrator.flowmodel.input_options import OptionsUnavailable
from orchestrator.flowmodel.task_api import StepError
from orchestrator.plugins.hcloud import tasks

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Price:
    monthly: Decimal
    hourly: Decimal
    currency: str = "EUR"


def _hcloud_server(values: dict[str, Any]) -> Price | None:
    server_type, location = values.get("server_type"), values.get("location")
    if not server_type or not location:
        return None
    try:
        found = tasks.price_for(str(server_type), str(location))
    except (StepError, OptionsUnavailable):
        return None  # no price list (API down, no token): the estimate says "unknown", nothing breaks
    if found is None:
        return None
    return Price(monthly=found["monthly"], hourly=found["hourly"], currency=found["currency"])


PRICERS: dict[str, Callable[[dict[str, Any]], Price | None]] = {"hcloud-server": _hcloud_server}


def price(kind: str | None, values: dict[str, Any]) -> Price | None:
    """Price of a ``kind`` resource described by ``values`` (a request's inputs or a run's outputs)."""
    pricer = PRICERS.get(kind or "")
    return pricer(values) if pricer else None


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def accrued(resources: Iterable[Any], now: datetime | None = None) -> Decimal:
    """Month-to-date cost of ``resources``: hours alive this month × hourly price, capped at the monthly
    price per resource (Hetzner bills that way)."""
    now = now or timezone.now()
    start_of_month = month_start(now)
    total = Decimal("0")
    for resource in resources:
        start = max(resource.created, start_of_month)
        end = min(resource.destroyed_at or now, now)
        if end <= start:
            continue
        hours = Decimal((end - start).total_seconds()) / Decimal(3600)
        total += min(hours * resource.hourly_cost, resource.monthly_cost)
    return total.quantize(CENT)
