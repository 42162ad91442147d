"""What the execution page shows: who may see an execution, its task tree and timeline, logs and outputs.

Everything displayed passes through ``orchestrator.flowmodel.masking.mask`` with the execution's secret
values: log lines are stored masked already, but task outputs are not (a task may echo an input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from orchestrator.executor.retries import attempts as attempt_history
from orchestrator.flowmodel import masking, secrets_at_rest, task_api
from orchestrator.flowmodel.input_types import mask_inputs
from orchestrator.flowmodel.spec import Flow, FlowValidationError
from orchestrator.state import flow_snapshots, logs
from orchestrator.state.models import TERMINAL, Execution, LogLine, State, TaskRun
from portal.accounts import visibility
from portal.requests import links
from portal.requests.models import ResourceRequest

# Kestra's log levels, lowest first; stored levels outside this list are mapped by _LEVEL_ALIASES.
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}
MAX_LOG_LINES = 500
_MIN_BAR_PERCENT = 0.6


def request_for(execution: Execution) -> ResourceRequest | None:
    """The request this execution belongs to (``requests.links``: by foreign key, through a subflow's
    root or a replay's original), never by label."""
    return links.request_of(execution)


def get_visible_execution(user: Any, pk: Any) -> tuple[Execution, ResourceRequest | None]:
    """404 (not 403) when the user may not see it: its existence is not theirs to know.

    An execution is its request's requester's (``accounts.visibility``); one no request started (a
    schedule, a webhook, the command line) is nobody's, so only overseers see it.
    """
    execution = Execution.objects.select_related("parent", "original").filter(pk=pk).first()
    if execution is None:
        raise Http404("no such execution")
    request = request_for(execution)
    owner = request.requester_id if request is not None else None
    cost_center_id = request.cost_center_id if request is not None else None
    if not visibility.may_see(user, owner, cost_center_id, execution.namespace):
        raise Http404("no such execution")
    return execution, request


def recent_executions(state: str = "", limit: int = 200) -> list[Execution]:
    """Latest executions first (operators' list), optionally in one state."""
    qs = Execution.objects.order_by("-created")
    if state:
        qs = qs.filter(state=state)
    return with_origin(list(qs[:limit]))


def with_origin(executions: list[Execution]) -> list[Execution]:
    """``executions`` (one page of a list), each given ``request_pk`` (the request it belongs to, or
    None) and ``started_by``: one query for all of them."""
    linked = links.request_ids([execution.pk for execution in executions])
    for execution in executions:
        execution.request_pk = linked.get(execution.pk)
        execution.started_by = started_by(execution)
    return executions


def started_by(execution: Execution) -> str:
    """A short word for what started it: the trigger's type, a replay, or the command line."""
    if execution.original_id:
        return "replay"
    kind = str((execution.trigger or {}).get("type") or "")
    if kind == "portico.request":
        return "request"
    return kind.rsplit(".", 1)[-1] if kind else "command line"


def flow_of(execution: Execution) -> Flow | None:
    try:
        return flow_snapshots.flow_for(execution)
    except FlowValidationError:  # a snapshot that no longer parses can still be looked at
        return None


def secrets_of(execution: Execution, flow: Flow | None) -> list[str]:
    return logs.secret_values(execution, flow) if flow is not None else []


def mask_value(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret masked, keeping its structure (dicts, lists) for display."""
    if secrets_at_rest.is_sealed(value):
        return masking.MASK
    if isinstance(value, dict):
        return {k: mask_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, secrets) for v in value]
    if isinstance(value, str):
        return masking.mask(value, secrets)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value if masking.mask(str(value), secrets) == str(value) else masking.MASK
    return value


# --- logs --------------------------------------------------------------------------------------------


def normalize_level(level: str | None) -> str:
    """A level name from the query string; unknown or empty means everything (TRACE)."""
    name = str(level or "").upper()
    name = _LEVEL_ALIASES.get(name, name)
    return name if name in LOG_LEVELS else LOG_LEVELS[0]


def levels_from(level: str) -> list[str]:
    """Stored level names at ``level`` and above (aliases included)."""
    wanted = set(LOG_LEVELS[LOG_LEVELS.index(normalize_level(level)) :])
    return sorted(wanted | {alias for alias, name in _LEVEL_ALIASES.items() if name in wanted})


def log_lines(
    execution: Execution, *, level: str = "", after: int | None = None, task: str = ""
) -> list[LogLine]:
    """Lines at ``level`` and above (of task ``task`` only, if given): the latest ``MAX_LOG_LINES``, or
    the next ones after id ``after``."""
    qs: QuerySet[LogLine] = LogLine.objects.filter(execution=execution).select_related("taskrun")
    if task:
        qs = qs.filter(taskrun__task_id=task)
    if normalize_level(level) != LOG_LEVELS[0]:  # TRACE: everything, whatever level name a task used
        qs = qs.filter(level__in=levels_from(level))
    if after is not None:
        lines = list(qs.filter(id__gt=after).order_by("id")[:MAX_LOG_LINES])
    else:
        lines = list(qs.order_by("-id")[:MAX_LOG_LINES])
        lines.reverse()
    secrets = secrets_of(execution, flow_of(execution))
    for line in lines:
        line.message = masking.mask(line.message, secrets)
    return lines


# --- task tree and timeline --------------------------------------------------------------------------


@dataclass
class Bar:
    """Position on the time axis in percent, as CSS-ready text (never localized)."""

    left: str
    width: str
    running: bool


@dataclass
class TaskRow:
    """One line of the tree: a task run, or the header of one ForEach iteration (``run`` None)."""

    depth: int
    label: str
    run: TaskRun | None = None
    type_name: str = ""
    flowable: bool = False
    iteration: str | None = None
    state: str = ""
    bar: Bar | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    segments: list[Bar] = field(default_factory=list)  # one bar per attempt once a run was retried
    duration: str = ""  # busy time, idle gaps (waiting for a restart) left out


@dataclass
class Timeline:
    """The time axis; ``gaps`` are idle stretches (a finished execution waiting to be restarted), cut
    out of the axis and of durations so a restart a day later does not squash every bar to a sliver."""

    origin: datetime | None
    seconds: float
    ticks: list[tuple[float, str]]
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)

    def offset(self, moment: datetime) -> float:
        """Seconds from the origin to ``moment``, idle gaps left out."""
        if self.origin is None:
            return 0.0
        idle = sum((min(moment, end) - start).total_seconds() for start, end in self.gaps if moment > start)
        return (moment - self.origin).total_seconds() - idle

    def active_seconds(self, start: datetime | None, end: datetime) -> float:
        """How long ``start``→``end`` was busy (idle gaps left out)."""
        return max(self.offset(end) - self.offset(start), 0.0) if start is not None else 0.0


def idle_gaps(history: list[dict[str, Any]]) -> list[tuple[datetime, datetime]]:
    """From the execution's own state history: each stretch from its end (FAILED, KILLED...) to the
    RESTARTED that woke it up again. A Pause is not idle: it is part of the run, as in Kestra."""
    gaps: list[tuple[datetime, datetime]] = []
    last_end: datetime | None = None
    for entry in history or []:
        when = _parse_iso(entry.get("date"))
        if when is None:
            continue
        state = entry.get("state")
        if state in TERMINAL:
            last_end = when
        elif state == State.RESTARTED and last_end is not None:
            if when > last_end:
                gaps.append((last_end, when))
            last_end = None
    return gaps


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{int(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def timeline(execution: Execution, runs: list[TaskRun], now: datetime) -> Timeline:
    """The time axis: from the execution's start to its end (or now while it runs)."""
    starts = [r.started for r in runs if r.started]
    origin = execution.started or (min(starts) if starts else None)
    if origin is None:
        return Timeline(None, 0.0, [])
    ends = [r.ended for r in runs if r.ended]
    end = execution.ended if execution.is_terminal and execution.ended else now
    if execution.is_terminal and not execution.ended and ends:
        end = max(ends)
    axis = Timeline(origin, 0.0, [], [gap for gap in idle_gaps(execution.history) if gap[1] <= end])
    axis.seconds = max(axis.offset(end), 0.001)
    axis.ticks = [(pct, format_seconds(axis.seconds * pct / 100)) for pct in (0, 25, 50, 75, 100)]
    return axis


def _bar(axis: Timeline, start: datetime | None, end: datetime | None, now: datetime) -> Bar | None:
    if axis.origin is None or start is None:
        return None
    left = min(max(axis.offset(start) / axis.seconds * 100, 0.0), 100.0)
    width = axis.active_seconds(start, end or now) / axis.seconds * 100
    width = min(max(width, _MIN_BAR_PERCENT), max(100.0 - left, _MIN_BAR_PERCENT))
    return Bar(f"{left:.2f}", f"{width:.2f}", end is None)


def _parse_iso(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _attempt_bars(axis: Timeline, attempts: list[dict[str, Any]], now: datetime) -> list[Bar]:
    if len(attempts) < 2:
        return []
    bars = [_bar(axis, _parse_iso(a["start"]), _parse_iso(a["end"]), now) for a in attempts]
    return [bar for bar in bars if bar is not None]


def _run_duration(axis: Timeline, run: TaskRun, now: datetime) -> str:
    if run.started is None:
        return "—"
    return format_seconds(axis.active_seconds(run.started, run.ended or now))


def task_rows(
    execution: Execution, runs: list[TaskRun], flow: Flow | None, secrets: list[str]
) -> list[TaskRow]:
    """Depth-first tree by ``TaskRun.parent``; a flowable's children that carry their own iteration
    ``value`` are grouped under one header row per value (ForEach, EachSequential, EachParallel)."""
    now = timezone.now()
    axis = timeline(execution, runs, now)
    children: dict[Any, list[TaskRun]] = {}
    for run in runs:
        children.setdefault(run.parent_id, []).append(run)
    rows: list[TaskRow] = []

    def add_run(run: TaskRun, depth: int) -> None:
        task = flow.find_task(run.task_id) if flow is not None else None
        task_type = task_api.lookup(task.type) if task is not None else None
        flowable = bool(task_type and task_type.flowable)
        history = [] if flowable else attempt_history(run)  # a flowable's RUNNING entries are not attempts
        rows.append(
            TaskRow(
                depth=depth,
                label=run.task_id,
                run=run,
                type_name=(task.type.rsplit(".", 1)[-1] if task is not None else ""),
                flowable=flowable,
                iteration=run.value,
                state=run.state,
                bar=_bar(axis, run.started, run.ended, now),
                attempts=history,
                outputs=mask_value(run.outputs or {}, secrets),
                segments=_attempt_bars(axis, history, now),
                duration=_run_duration(axis, run, now),
            )
        )
        kids = children.get(run.pk, [])
        groups: dict[str, list[TaskRun]] = {}
        for kid in kids:
            if kid.value is not None and kid.value != run.value:
                groups.setdefault(kid.value, []).append(kid)
        if not groups:
            for kid in kids:
                add_run(kid, depth + 1)
            return
        for kid in kids:
            if kid.value is None or kid.value == run.value:
                add_run(kid, depth + 1)
        for value, members in groups.items():
            starts = [m.started for m in members if m.started]
            ends = [m.ended for m in members]
            end = None if any(e is None for e in ends) else max(ends, default=None)
            rows.append(
                TaskRow(
                    depth=depth + 1,
                    label=masking.mask(value, secrets),
                    iteration=masking.mask(value, secrets),
                    bar=_bar(axis, min(starts), end, now) if starts else None,
                )
            )
            for member in members:
                add_run(member, depth + 2)

    for root in children.get(None, []):
        add_run(root, 0)
    return rows


def _by_label(flow: Flow | None, values: dict[str, Any]) -> dict[str, Any]:
    """Inputs keyed by what people read (``InputSpec.label``: the ``displayName``), ids as a fallback."""
    specs = flow.input_map if flow is not None else {}
    shown: dict[str, Any] = {}
    for key, value in values.items():
        label = specs[key].label if key in specs else key
        shown[label if label not in shown else f"{label} ({key})"] = value
    return shown


def execution_view(execution: Execution) -> dict[str, Any]:
    """Everything the live part of the page shows, masked."""
    execution.refresh_from_db()
    flow = flow_of(execution)
    secrets = secrets_of(execution, flow)
    runs = list(TaskRun.objects.filter(execution=execution).order_by("created", "id"))
    now = timezone.now()
    inputs = mask_inputs(flow, dict(execution.inputs)) if flow is not None else {}
    axis = timeline(execution, runs, now)
    return {
        "execution": execution,
        "flow": flow,
        "rows": task_rows(execution, runs, flow, secrets),
        "timeline": axis,
        "duration": format_seconds(axis.active_seconds(execution.started, execution.ended or now))
        if execution.started
        else "",
        "idle": format_seconds(sum((end - start).total_seconds() for start, end in axis.gaps))
        if axis.gaps
        else "",
        "inputs": mask_value(_by_label(flow, inputs), secrets),
        "outputs": mask_value(execution.outputs or {}, secrets),
        "task_outputs": [
            (run.task_id, run.value, mask_value(run.outputs, secrets)) for run in runs if run.outputs
        ],
        "terminal": execution.is_terminal,
        "children": list(execution.children.order_by("created")),
        "replays": list(execution.replays.order_by("created")),
    }


def log_task_choices(flow: Flow | None) -> list[str]:
    """Task ids the log filter offers, in flow order, each once."""
    return list(dict.fromkeys(task.id for task in flow.walk_tasks())) if flow is not None else []


def normalize_task(task: str | None, choices: list[str]) -> str:
    """A task id from the query string: one of the flow's, or "" (every task)."""
    return task if task in choices else ""


def replay_choices(flow: Flow | None) -> list[str]:
    """Task ids a replay may start from, in flow order."""
    return [task.id for task in flow.walk_tasks()] if flow is not None else []


def paused_task_id(execution: Execution) -> str | None:
    """The first PAUSED task run's task id: its ``onResume`` inputs make the resume form."""
    run = TaskRun.objects.filter(execution=execution, state="PAUSED").order_by("created").first()
    return run.task_id if run else None
