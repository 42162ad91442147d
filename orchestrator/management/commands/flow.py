"""``manage.py flow validate PATH...`` and ``manage.py flow run PATH [--input k=v ...] [--json]``.

``run`` goes through the real path (broker, Celery worker, database): it starts an in-process worker
(and the embedded Redis) only when nobody else is there, and stops them before exiting.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F

from orchestrator.executor import walker
from orchestrator.flowmodel import input_types, secrets_at_rest, spec, storage, worker_group
from orchestrator.state import logs
from orchestrator.state.models import TERMINAL, Execution, State
from orchestrator.worker import embedded_redis, heartbeat
from orchestrator.worker.local_worker import consuming_workers, local_worker

EXIT_FAILED = 1
EXIT_USAGE = 2
_POLL_SECONDS = 0.05
_PING_SECONDS = 0.5


def _flow_files(paths: list[str]) -> list[str]:
    """Paths as given; a directory stands for the ``*.yml``/``*.yaml`` files below it."""
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*")) if p.suffix in (".yml", ".yaml"))
        else:
            files.append(raw)
    return files


def _upload(path: str) -> input_types.FileUpload:
    """``--input f=@PATH``: the local file, to be stored as the FILE input (curl's ``@`` convention)."""
    source = Path(path).expanduser()
    return input_types.FileUpload(name=source.name, data=source.read_bytes())


class Command(BaseCommand):
    help = "Validate flow files, or run one flow through a Celery worker and print the result."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        validate = actions.add_parser("validate", help="check flow files (exit 1 on any problem)")
        validate.add_argument("paths", nargs="+", metavar="PATH")
        run = actions.add_parser("run", help="run a flow and wait until it ends (exit 0 on SUCCESS)")
        run.add_argument("path", metavar="PATH")
        run.add_argument(
            "--input",
            "-i",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an input value; for a FILE input, KEY=@PATH uploads the local file PATH (stored in the "
            "execution's storage, the input becomes its kestra:/// URI) and KEY=kestra:///... names a "
            "file already stored. '@' means nothing special for other input types.",
        )
        run.add_argument("--json", action="store_true", help="print the result as JSON")
        run.add_argument("--timeout", type=float, default=None, help="give up waiting after N seconds")
        run.add_argument(
            "--worker",
            choices=("auto", "local", "remote"),
            default="auto",
            help="auto: start an in-process worker unless one consumes the queue",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = self.validate(options) if options["action"] == "validate" else self.run(options)
        if code:
            sys.exit(code)

    # --- validate ----------------------------------------------------------------------------------

    def validate(self, options: dict[str, Any]) -> int:
        files = _flow_files(options["paths"])
        warnings: list[spec.FlowError] = []
        errors = spec.validate_files(files, warnings)
        for warning in warnings:
            self.stdout.write(f"{warning} [warning]")
        for error in errors:
            self.stdout.write(str(error))
        bad = {error.file for error in errors}
        if errors:
            self.stderr.write(f"{len(errors)} problem(s) in {len(bad)} of {len(files)} flow(s)")
            return EXIT_FAILED
        self.stdout.write(f"{len(files)} flow(s) valid")
        return 0

    # --- run ---------------------------------------------------------------------------------------

    def _database_ready(self) -> bool:
        """``flow run`` works on a fresh clone: the embedded database (no ``DATABASE_URL``) is created
        and migrated here; an external one is never migrated behind its owner's back, only named."""
        try:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        except DatabaseError as exc:
            self.stderr.write(f"cannot reach the database: {str(exc).strip().splitlines()[-1]}")
            return False
        if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return True
        if not os.environ.get("DATABASE_URL"):
            call_command("migrate", interactive=False, verbosity=0)
            return True
        self.stderr.write(
            "the database has unapplied migrations: run `python manage.py migrate` first (or `make up`)"
        )
        return False

    def run(self, options: dict[str, Any]) -> int:
        try:
            flow = spec.load_flow(options["path"])
        except spec.FlowValidationError as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            return EXIT_FAILED
        if not self._database_ready():
            return EXIT_USAGE
        raw: dict[str, Any] = {}
        for item in options["input"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                self.stderr.write(f"--input expects KEY=VALUE, got {item!r}")
                return EXIT_USAGE
            raw[key.strip()] = value
        unknown = sorted(set(raw) - {i.id for i in flow.inputs})
        if unknown:
            self.stderr.write(f"flow {flow.namespace}.{flow.id} has no input(s): {', '.join(unknown)}")
            return EXIT_USAGE
        for spec_ in flow.inputs:
            value = raw.get(spec_.id)
            if spec_.type == "FILE" and isinstance(value, str) and value.startswith("@"):
                try:
                    raw[spec_.id] = _upload(value[1:])
                except OSError as exc:
                    self.stderr.write(f"input '{spec_.id}': cannot read {value[1:]!r}: {exc.strerror or exc}")
                    return EXIT_USAGE
        execution_id = uuid.uuid4()
        try:
            values = input_types.resolve_inputs(
                flow, raw, files_prefix=storage.execution_prefix(flow.namespace, flow.id, execution_id)
            )
        except input_types.InputsInvalid as exc:
            for input_id, message in exc.errors.items():
                self.stderr.write(f"input '{input_id}': {message}")
            return EXIT_FAILED

        logging.getLogger("celery").setLevel(logging.WARNING)  # keep worker chatter out of the output
        with ExitStack() as stack:
            fresh_broker = False
            if settings.USES_EMBEDDED_REDIS:
                embedded_redis.ensure_running()
                stack.callback(embedded_redis.shutdown)
                fresh_broker = embedded_redis.started_here()  # nobody can be consuming it yet
            app = current_app._get_current_object()
            queue = app.conf.task_default_queue
            # The flow's worker groups (workerGroup.key): the local worker joins them all; in auto mode
            # it also starts, for the missing ones only, when a running worker serves the default queue.
            groups = worker_group.groups_of_flow(flow)
            missing = {key for key in groups if fresh_broker or not heartbeat.group_alive(key)}
            if options["worker"] == "local" or (
                options["worker"] == "auto"
                and (fresh_broker or not consuming_workers(app, queue, timeout=_PING_SECONDS))
            ):
                stack.enter_context(local_worker(app, queue, groups=groups))
            elif options["worker"] == "auto" and missing:
                names = ", ".join(sorted(missing))
                self.stderr.write(f"no running worker in worker group(s) {names}: this process runs one")
                stack.enter_context(local_worker(app, queue, groups=missing))
            try:
                execution = walker.start_execution(
                    flow, values, trigger={"type": "cli"}, execution_id=execution_id
                )
            except (walker.FlowDisabled, walker.ChecksBlocked) as exc:
                self.stderr.write(str(exc))
                return EXIT_FAILED
            try:
                execution = self._wait(execution, options["timeout"])
            except KeyboardInterrupt:
                self.stderr.write(f"interrupted; execution {execution.pk} continues without this process")
                return 130
        secrets = logs.secret_values(execution, flow)
        if options["json"]:
            self.stdout.write(json.dumps(secrets_at_rest.masked(self._result(execution), secrets), indent=2))
        else:
            self._summary(execution, secrets)
        return 0 if execution.state == State.SUCCESS else EXIT_FAILED

    def _wait(self, execution: Execution, timeout: float | None) -> Execution:
        """Wait until the execution ends, or waits for a person.

        A Pause with ``pauseDuration``/``delay`` (or a ``timeout``) ends by itself, and a RETRIED
        execution (``CREATE_NEW_EXECUTION``) is replaced by a new one: both are waited through, so
        ``flow run`` reports the outcome Kestra's execution would reach. Only a Pause that needs a manual
        resume returns PAUSED.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            execution.refresh_from_db()
            if execution.state == State.RETRIED:
                replacement = Execution.objects.filter(original=execution).first()
                if replacement is not None:
                    execution = replacement
                    continue
            elif execution.state in TERMINAL:
                return execution
            elif execution.state == State.PAUSED and self._waits_for_a_person(execution):
                return execution
            if deadline is not None and time.monotonic() > deadline:
                self.stderr.write(f"gave up waiting after {timeout} s")
                return execution
            time.sleep(_POLL_SECONDS)

    @staticmethod
    def _waits_for_a_person(execution: Execution) -> bool:
        """True when only a manual resume can end this pause.

        The execution row and its task runs are read in separate queries, so a timed pause that ends
        between them could look like a manual one; the execution is read again afterwards to be sure
        (a pause expires in one transaction that moves both).
        """
        paused = list(execution.task_runs.filter(state=State.PAUSED).values_list("wake_at", flat=True))
        if not paused or any(wake is not None for wake in paused):
            return False
        execution.refresh_from_db(fields=["state"])
        return execution.state == State.PAUSED

    @staticmethod
    def _task_runs(execution: Execution) -> list[Any]:
        return list(execution.task_runs.order_by(F("started").asc(nulls_last=True), "created"))

    def _result(self, execution: Execution) -> dict[str, Any]:
        return {
            "id": str(execution.pk),
            "state": execution.state,
            "outputs": execution.outputs,
            "labels": execution.labels,
            "taskRuns": [
                {"taskId": run.task_id, "state": run.state, "attempts": run.attempts, "outputs": run.outputs}
                for run in self._task_runs(execution)
            ],
        }

    def _summary(self, execution: Execution, secrets: list[str]) -> None:
        took = ""
        if execution.started and execution.ended:
            took = f" in {(execution.ended - execution.started).total_seconds():.2f} s"
        name = f"{execution.namespace}.{execution.flow_id}"
        self.stdout.write(f"{name} {execution.pk}: {execution.state}{took}")
        for run in self._task_runs(execution):
            line = f"  {run.task_id:<24} {run.state:<9} attempts={run.attempts}"
            if run.error:
                line += f"  error: {run.error}"
            self.stdout.write(line)
        logs = list(execution.logs.select_related("taskrun"))
        if logs:
            self.stdout.write("logs:")
        for entry in logs:
            where = entry.taskrun.task_id if entry.taskrun else "-"
            stamp = f"{entry.timestamp:%H:%M:%S.%f}"[:-3]
            self.stdout.write(f"  {stamp} {entry.level:<5} {where}: {entry.message}")
        if execution.outputs:
            self.stdout.write("outputs: " + json.dumps(secrets_at_rest.masked(execution.outputs, secrets)))
