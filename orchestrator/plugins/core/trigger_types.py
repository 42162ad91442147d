"""Kestra's core trigger types Schedule, Webhook and Flow (``orchestrator.scheduler.triggers`` fires
them), and the Toggle task that switches a stored trigger on or off.

Property names and defaults follow Kestra's trigger classes; keys every trigger has (``conditions``,
``disabled``, ``stopAfter`` ...) are parsed by the spec loader, not declared here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.labels import label_map
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import refused
from orchestrator.state.models import Execution, Trigger

# Kestra's cron nicknames (cron-utils), as five-field expressions.
CRON_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MAX_DATE_TEXT = 64
_EXAMPLE_DATE = "2026-01-01T00:00:00Z"
STATES = Literal[
    "CREATED",
    "QUEUED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "KILLED",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "CANCELLED",
    "RETRYING",
    "RETRIED",
]


def _day_of_week(field: str) -> str:
    """Kestra accepts 7 for Sunday (as 0); Celery's crontab only 0-6."""
    parts = []
    for part in field.split(","):
        if part == "7":
            part = "0"
        elif part.endswith("-7") and "/" not in part:
            part = f"{part[:-2]}-6,0"
        parts.append(part)
    return ",".join(parts)


def cron_fields(expression: str) -> dict[str, str]:
    """The crontab fields of a five-field cron expression or nickname; ValueError when invalid."""
    text = CRON_NICKNAMES.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression '{expression}' must have 5 fields (minute hour day month weekday)")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    values = {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": _day_of_week(day_of_week),
    }
    try:
        crontab(**values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid cron expression '{expression}': {exc}") from exc
    return values


class Props(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_date(value: Any) -> datetime:
    """A backfill bound: an ISO-8601 date-time with its offset, as Kestra's ``ZonedDateTime`` is written."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if len(text) > _MAX_DATE_TEXT:
            raise ValueError(f"must be an ISO-8601 date-time like {_EXAMPLE_DATE}")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"must be an ISO-8601 date-time like {_EXAMPLE_DATE}, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError("must say its offset or Z (2026-01-01T00:00:00Z), as Kestra's dates do")
    return moment


class ScheduleBackfill(Props):
    """Kestra's ``Backfill`` (the object its API and UI start): the schedule dates from ``start`` to
    ``end`` (default: when the backfill is started) are run, with ``labels`` and ``inputs`` added."""

    start: str
    end: str | None = None
    labels: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)
    inputs: dict[str, Any] | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if value is None:
            return None
        parse_date(value)
        return str(value)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if any(str(key).startswith("system.") for key in label_map(value)):
            raise ValueError("system labels can only be set by Kestra itself")  # Kestra's rule, too
        return value

    @model_validator(mode="after")
    def _order(self) -> ScheduleBackfill:
        if self.end is not None and parse_date(self.end) < parse_date(self.start):
            raise ValueError("end must not be before start")
        return self


class ScheduleProps(Props):
    cron: str
    withSeconds: bool = False  # noqa: N815 (Kestra's property names)
    timezone: str | None = None
    inputs: dict[str, Any] | None = None
    # Kestra deprecated the YAML ``backfill`` for the API's Backfill; here it declares one (see triggers).
    backfill: ScheduleBackfill | None = None
    lateMaximumDelay: str | None = None  # noqa: N815
    # None: ``settings.PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES`` (Kestra's plugin configuration), ALL.
    recoverMissedSchedules: Literal["ALL", "LAST", "NONE"] | None = None  # noqa: N815
    scheduleConditions: list[dict[str, Any]] | None = None  # noqa: N815

    # Conditions on the schedule date (Kestra's deprecated ScheduleCondition list) are not evaluated.
    _refused = refused("scheduleConditions")

    @field_validator("lateMaximumDelay")
    @classmethod
    def _delay(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        cron_fields(value)
        return value

    @field_validator("withSeconds")
    @classmethod
    def _seconds(cls, value: bool) -> bool:
        if value:
            raise ValueError("schedules have minute precision: not supported yet")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone '{value}'") from exc
        return value


@register(
    "io.kestra.plugin.core.trigger.Schedule",
    aliases=("io.kestra.core.models.triggers.types.Schedule",),
    props=ScheduleProps,
    kind="trigger",
)
class Schedule:
    """Starts an execution on each cron tick (django-celery-beat entry kept in sync with the flows)."""


class WebhookProps(Props):
    key: str
    inputs: dict[str, Any] | None = None
    wait: bool = False
    returnOutputs: bool = False  # noqa: N815
    responseContentType: str | None = None  # noqa: N815

    _refused = refused("responseContentType")


@register(
    "io.kestra.plugin.core.trigger.Webhook",
    aliases=("io.kestra.core.models.triggers.types.Webhook",),
    props=WebhookProps,
    kind="trigger",
)
class Webhook:
    """Starts an execution on POST /api/v1/executions/webhook/<namespace>/<flowId>/<key>."""


class FlowProps(Props):
    inputs: dict[str, Any] | None = None
    # Kestra's default: terminal states and PAUSED.
    states: list[STATES] | None = None
    preconditions: dict[str, Any] | None = None

    _refused = refused("preconditions")


@register(
    "io.kestra.plugin.core.trigger.Flow",
    aliases=("io.kestra.core.models.triggers.types.Flow",),
    props=FlowProps,
    kind="trigger",
)
class FlowTrigger:
    """Starts an execution when another flow's execution reaches one of ``states`` and all conditions hold."""


class ToggleProps(Props):
    trigger: str
    enabled: bool = False  # Kestra's default: a Toggle without ``enabled`` disables
    namespace: str | None = None
    flowId: str | None = None  # noqa: N815


def namespace_allowed(target: str, source: str) -> bool:
    """Whether a flow of ``source`` may act on flows of ``target`` (Kestra's ``allowedNamespaces``).

    Kestra allows every namespace unless the target namespace lists the ones allowed to reach it; here
    that list is ``settings.PORTICO_ALLOWED_NAMESPACES[target]``. A namespace always reaches itself.
    """
    allowed = (getattr(settings, "PORTICO_ALLOWED_NAMESPACES", None) or {}).get(target)
    return source == target or allowed is None or source in allowed


def check_namespace_access(target: str, source: str) -> None:
    if not namespace_allowed(target, source):
        raise StepError(
            f"namespace '{source}' is not allowed to access flows of namespace '{target}' "
            f"(PORTICO_ALLOWED_NAMESPACES lists which namespaces may)",
            permanent=True,
        )


@register(
    "io.kestra.plugin.core.trigger.Toggle",
    aliases=("io.kestra.core.tasks.trigger.Toggle",),
    props=ToggleProps,
)
def run_toggle(props: ToggleProps, ctx: RunContext) -> dict[str, Any]:
    """Switch a stored trigger with the operator's own switch (``Trigger.set_enabled``, as the admin
    does), so a flow can pause its own schedule; another flow's when ``namespace``/``flowId`` say so and
    that flow's namespace allows the caller's (``namespace_allowed``)."""
    execution = Execution.objects.only("namespace", "flow_id").get(pk=ctx.execution_id)
    namespace, flow_id = props.namespace or execution.namespace, props.flowId or execution.flow_id
    check_namespace_access(namespace, execution.namespace)
    row = Trigger.objects.filter(namespace=namespace, flow_id=flow_id, trigger_id=props.trigger).first()
    if row is None:
        raise StepError(
            f"no trigger '{props.trigger}' is stored for flow {namespace}.{flow_id} "
            "(triggers are stored when flows are synced)"
        )
    row.set_enabled(props.enabled)
    return {}
