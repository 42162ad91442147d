"""WorkingDirectory as Kestra runs it: all children on ONE worker, one after another, in one temporary
directory that is removed afterwards.

The WorkingDirectory run is an ordinary worker task (claimed, heart-beaten, killable, timed out and
retried like any other). Its ``run`` executes the children inline: each child gets its own TaskRun
row (parent = the WorkingDirectory run) moved through ``transitions.transition``, so the execution page
and ``outputs.<child>`` see them as usual, but no child ever goes through the broker, which could hand
it to another worker with another directory.

Within the directory, children follow Kestra's block rules: a failure stops the list (``allowFailure``
turns it into a warning), then ``errors`` run, then ``finally``. Children keep their own task
properties, applied inline:

* ``runIf`` false: the child is SKIPPED (a condition that cannot be rendered fails it);
* ``timeout``: the watchdog of ``failures`` interrupts the child, whose attempt then fails with
  "Timeout after PT1S", like a worker task's;
* ``retry`` (the child's own block; the WorkingDirectory's and the flow's apply to the directory as a
  whole): another attempt in the same directory after the delay ``retries`` computes. The wait is spent
  here, on the worker the directory holds anyway, capped at ``MAX_INLINE_RETRY_WAIT`` and interrupted
  by a kill or the directory's timeout. Attempts are recorded on the child's run as the engine records
  them (RUNNING → RETRYING → RUNNING ...). ``CREATE_NEW_EXECUTION`` restarts the whole execution, which
  a directory cannot do inline: while the policy has an attempt left (counted over the execution's
  ``original`` chain, as ``retries`` counts it), the child ends RETRIED, the directory stops at once
  (no ``errors``/``finally``: the execution is being replaced, not failed) and fails; ``retries`` then
  takes the child's policy for the directory (``new_execution_policy``) and replaces the execution;
* a WARNING child (``allowFailure``, ``warningOnRetry``) makes the WorkingDirectory WARNING unless the
  child has ``allowWarning``, as in a Sequential.

A retried WorkingDirectory starts over in a fresh directory; the child runs of the earlier attempt are
replaced.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from orchestrator.executor import control, failures, flowables, retries, timeouts
from orchestrator.flowmodel import storage, task_api, templating
from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.spec import TaskSpec
from orchestrator.plugins.core.local_files import upload_matches, write_inputs
from orchestrator.state import flow_snapshots, logs, template_context, transitions
from orchestrator.state.models import SEVERITY, TERMINAL, State, TaskRun

S = State
_CONTEXT_FIELDS = ("id", "execution_id", "task_id", "parent_id", "value", "state", "outputs")
_FAILING = (S.FAILED, S.KILLED)
# The longest inline wait before a child's next attempt: the directory holds a worker slot meanwhile.
MAX_INLINE_RETRY_WAIT = timedelta(minutes=5)


class _ChildInterrupt(threading.Event):
    """A child's ``interrupted`` event: set by its own timeout, or seen set once the directory's is."""

    def __init__(self, directory: threading.Event) -> None:
        super().__init__()
        self.directory = directory

    def is_set(self) -> bool:
        return super().is_set() or self.directory.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return False
            super().wait(left)
        return True


class _Replaced(Exception):
    """A child ended RETRIED: its execution is replaced by a new one, so the directory stops at once."""


class _Runner:
    def __init__(self, run: TaskRun, ctx: Any, directory: Path) -> None:
        self.run = run
        self.ctx = ctx
        self.directory = directory
        self.execution = run.execution
        self.flow = flow_snapshots.flow_for(self.execution)
        self.secrets = logs.secret_values(self.execution, self.flow)

    def check_still_running(self) -> None:
        """Between children: stop when the directory's attempt was killed or timed out meanwhile."""
        if self.ctx.interrupted.is_set():
            raise failures.TaskInterrupted(self.ctx.interrupt_reason)
        if control.is_being_killed(str(self.run.pk)):
            raise control.TaskKilled(str(self.run.pk))

    def sequence(self, tasks: list[TaskSpec]) -> State:
        result = S.SUCCESS
        for task in tasks:
            if flowables.flag(task, "disabled"):
                continue
            self.check_still_running()
            ended = self.child(task)
            if ended == S.RETRIED:
                raise _Replaced  # a new execution replaces this one: nothing else runs here
            state = flowables.counts_as(task, ended)
            if state in _FAILING:
                return state
            result = max(result, state, key=SEVERITY.__getitem__)
        return result

    def child(self, task: TaskSpec) -> State:
        """Run one child to its final state: skipped by ``runIf``, else attempted until done or out of
        retries."""
        child = TaskRun.objects.create(
            execution=self.execution,
            task_id=task.id,
            parent=self.run,
            value=self.run.value,
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        transitions.announce(child, None, S.CREATED.value)
        if "runIf" in task.common:
            verdict, message = failures.run_if_verdict(task, lambda: self._context(child, task))
            if verdict == S.SKIPPED:
                transitions.transition(child, S.SKIPPED, reason=message)
                return S.SKIPPED
            if verdict == S.FAILED:
                transitions.transition(child, S.RUNNING)
                return self._failed(child, message)
        policy = retries.own_policy(task)
        try:
            while True:
                transitions.transition(child, S.RUNNING, attempts=transitions.bump)
                error, retryable = self._attempt(child, task)
                if error is None:
                    return S(child.state)
                if retryable and policy is not None and policy.behavior == retries.CREATE_NEW_EXECUTION:
                    return self._retried_as_new_execution(child, error, policy)
                at = self._next_attempt_at(child, policy) if retryable else None
                if at is None:
                    return self._failed(child, error)
                self._wait_for_retry(child, error, at)
        except control.TaskKilled:
            control.acknowledge_kill(child)
            raise
        except failures.TaskInterrupted:
            self._failed(child, f"stopped: {self.ctx.interrupt_reason or 'the WorkingDirectory timed out'}")
            raise

    def _attempt(self, child: TaskRun, task: TaskSpec) -> tuple[str | None, bool]:
        """One attempt; (None, _) once the child ended SUCCESS/WARNING, else (error, retryable)."""

        ctx = self.ctx.for_child(child)
        ctx.interrupted = _ChildInterrupt(self.ctx.interrupted)  # its timeout, or the directory's
        ctx.working_dir = self.directory  # LocalFiles and the script tasks work in it
        watchdog = None
        try:
            task_type = task_api.lookup(task.type)
            if task_type is None or task_type.run is None:
                raise task_api.StepError(f"task type '{task.type}' cannot run in a WorkingDirectory")
            context = self._context(child, task)
            props = task_type.validate_props(templating.render(task.props, context))
            timeout = timeouts.task_timeout(task, context)
            if timeout is not None:
                watchdog = timeouts.Watchdog(
                    child, child.attempts, timeout, ctx.interrupt, self.secrets, record=False
                ).start()
            outputs = dict(task_type.run(props, ctx) or {})
        except task_api.StepError as exc:
            return exc.message, not exc.permanent
        except templating.TemplateError as exc:
            return f"cannot render properties: {exc}", True
        except failures.TaskInterrupted:
            if self.ctx.interrupted.is_set():
                raise  # the directory's own timeout: it ends, with this child
            return ctx.interrupt_reason, True
        except control.TaskKilled:
            raise
        except Exception as exc:  # a plugin bug fails the child, as on a worker
            return f"{type(exc).__name__}: {exc}", True
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if ctx.interrupt_reason:  # timed out, but the plugin finished anyway: too late, as on a worker
            return ctx.interrupt_reason, True
        state = retries.success_state(self.flow, child, warned=bool(ctx.warning))
        if ctx.warning:
            logs.log(self.execution, child, "WARN", ctx.warning)
        transitions.transition(child, state, outputs=outputs)
        return None, False

    def _context(self, child: TaskRun, task: TaskSpec) -> dict[str, Any]:
        runs = list(self.execution.task_runs.only(*_CONTEXT_FIELDS))
        context = template_context.build(self.execution, self.flow, runs, taskrun=child, task=task)
        return {**context, **task_api.working_dir_vars(self.directory)}  # the children share it

    def _next_attempt_at(self, child: TaskRun, policy: retries.RetryPolicy | None) -> Any:
        if policy is None or policy.behavior != retries.RETRY_FAILED_TASK:
            return None
        now = timezone.now()
        return retries.next_retry_at(
            policy, attempt_number=max(child.attempts, 1), first_started=child.started or now, last_ended=now
        )

    def _wait_for_retry(self, child: TaskRun, error: str, at: Any) -> None:
        """RUNNING → RETRYING (no ``wake_at``: nothing but this thread may wake it), then wait here."""
        transitions.transition(child, S.RETRYING, reason=error, error=error)
        wait = min(max(at - timezone.now(), timedelta(0)), MAX_INLINE_RETRY_WAIT)
        logs.log(
            self.execution,
            child,
            "WARN",
            f"{error} (attempt {child.attempts} failed; retrying in "
            f"{format_duration(timedelta(seconds=round(wait.total_seconds(), 3)))} in the working directory)",
            self.secrets,
        )
        self.ctx.sleep(wait.total_seconds())  # the directory's context: a kill or its timeout ends the wait

    def _retried_as_new_execution(self, child: TaskRun, error: str, policy: retries.RetryPolicy) -> State:
        """RUNNING → RETRIED when the policy grants another execution; FAILED when it has none left."""
        if retries.new_execution_at(policy, self.execution, timezone.now()) is None:
            return self._failed(child, error)
        transitions.transition(child, S.RETRIED, reason=error, error=error)
        logs.log(self.execution, child, "ERROR", f"{error} (a new execution will retry it)", self.secrets)
        return S.RETRIED

    def _failed(self, child: TaskRun, message: str) -> State:
        transitions.transition(child, S.FAILED, error=message)
        logs.log(self.execution, child, "ERROR", message, self.secrets)
        return S.FAILED


def _replace_earlier_attempt(run: TaskRun) -> None:
    """A retried or re-queued WorkingDirectory starts over: drop the child runs of the lost attempt."""
    stale = TaskRun.objects.filter(parent=run)
    for child in stale.exclude(state__in=[s.value for s in TERMINAL]):
        transitions.transition(child, S.KILLED, reason="its WorkingDirectory attempt was replaced")
    stale.delete()


# --- cache: files matching ``cache.patterns`` survive between executions of the flow (``ttl``) --------


def _cache_uri(run: TaskRun) -> str:
    execution = run.execution
    parts = [storage.flow_prefix(execution.namespace, execution.flow_id), "caches", run.task_id]
    if run.value is not None:
        parts.append(re.sub(r"[^A-Za-z0-9._-]", "_", run.value) or "_")
    return storage.uri_of("/".join(parts) + "/cache.zip")


def _restore_cache(run: TaskRun, cache: Any, directory: Path) -> None:
    uri = _cache_uri(run)
    if not storage.exists(uri):
        return
    ttl = cache.ttl
    if ttl:
        stamp = storage.modified(uri)
        if stamp + parse_duration(ttl) < timezone.now():
            return
    with zipfile.ZipFile(io.BytesIO(storage.get(uri))) as archive:
        for member in archive.namelist():
            target = (directory / member).resolve()
            if directory.resolve() in target.parents:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))


def _save_cache(run: TaskRun, cache: Any, directory: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for pattern in cache.patterns:
            for path in sorted(directory.glob(str(pattern))):
                if path.is_file():
                    archive.write(path, path.relative_to(directory).as_posix())
    path = storage.path_of(_cache_uri(run))
    folder, name = path.rsplit("/", 1)
    storage.put(folder, name, buffer.getvalue())


def run(props: Any, ctx: Any) -> dict[str, Any]:
    """The WorkingDirectory's ``run`` on a worker: see the module docstring."""
    wd_run = TaskRun.objects.select_related("execution").get(pk=ctx.taskrun_id)
    _replace_earlier_attempt(wd_run)
    with tempfile.TemporaryDirectory(prefix="portico-wd-") as tmp:
        directory = Path(tmp)
        runner = _Runner(wd_run, ctx, directory)
        task = runner.flow.find_task(wd_run.task_id)
        if task is None:
            raise task_api.StepError(f"task '{wd_run.task_id}' is not in the flow")
        cache = props.cache
        try:
            if cache:
                _restore_cache(wd_run, cache, directory)
            write_inputs(directory, _file_map(props.inputFiles), wd_run.execution)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise task_api.StepError(f"cannot prepare the working directory: {exc}") from None
        try:
            state = _run_branches(runner, task)
        except _Replaced:
            raise task_api.StepError(
                "a task in the working directory is retried as a new execution", permanent=False
            ) from None
        if state in _FAILING:
            raise task_api.StepError("a task in the working directory failed", permanent=False)
        outputs: dict[str, Any] = {}
        if props.outputFiles:
            patterns = [props.outputFiles] if isinstance(props.outputFiles, str) else props.outputFiles
            outputs["outputFiles"] = upload_matches(directory, patterns, storage.taskrun_prefix(wd_run))
        if cache:
            _save_cache(wd_run, cache, directory)
    return outputs


def _run_branches(runner: _Runner, task: TaskSpec) -> State:
    """``tasks``, then ``errors`` if they failed, then ``finally``: the worst state of them."""
    branch = task.branches.get
    state = runner.sequence(branch("tasks", []))
    if state in _FAILING and branch("errors"):
        runner.sequence(branch("errors", []))
    if branch("finally"):
        after = runner.sequence(branch("finally", []))
        state = max(state, after, key=SEVERITY.__getitem__)
    return state


def _file_map(raw: Any) -> dict[str, Any]:
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise task_api.StepError("inputFiles must be a map of file name to content") from None
    if not isinstance(raw, dict):
        raise task_api.StepError("inputFiles must be a map of file name to content")
    return raw
