"""WorkingDirectory as Kestra runs it: all children on ONE worker, one after another, in one temporary
directory that is removed afterwards.

The WorkingDirectory run is an ordinary worker task (claimed, heart-beaten, killable, timed out and
retried like any other). Its ``run`` executes the children inline: each child gets its own TaskRun
row (parent = the WorkingDirectory run) moved through ``engine.transition``, so the execution page
and ``outputs.<child>`` see them as usual, but no child ever goes through the broker, which could hand
it to another worker with another directory.

Within the directory, children follow Kestra's block rules: a failure stops the list (``allowFailure``
turns it into a warning), then ``errors`` run, then ``finally``. What children do NOT get here: their
own ``retry``, ``timeout`` and ``runIf`` (the WorkingDirectory's own apply to the whole directory), and
a WARNING child does not turn the WorkingDirectory into WARNING. A retried WorkingDirectory starts
over in a fresh directory; the child runs of the earlier attempt are replaced.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from django.db.models import F
from django.utils import timezone

from . import context as template_context
from . import control, engine, failures, registry, storage, templating
from .durations import parse_duration
from .models import TERMINAL, State, TaskRun
from .plugins.storage import upload_matches, write_inputs
from .spec import TaskSpec

S = State
_CONTEXT_FIELDS = ("id", "execution_id", "task_id", "parent_id", "value", "state", "outputs")
_FAILING = (S.FAILED, S.KILLED)


class _Runner:
    def __init__(self, run: TaskRun, ctx: Any, directory: Path) -> None:
        self.run = run
        self.ctx = ctx
        self.directory = directory
        self.execution = run.execution
        self.flow = engine.flow_for(self.execution)
        self.secrets = engine.secret_values(self.execution, self.flow)

    def check_still_running(self) -> None:
        """Between children: stop when the directory's attempt was killed or timed out meanwhile."""
        if self.ctx.interrupted.is_set():
            raise failures.TaskInterrupted(self.ctx.interrupt_reason)
        if control.is_being_killed(str(self.run.pk)):
            raise control.TaskKilled(str(self.run.pk))

    def sequence(self, tasks: list[TaskSpec]) -> State:
        result = S.SUCCESS
        for task in tasks:
            if str(task.common.get("disabled", "")).lower() == "true":
                continue
            self.check_still_running()
            state = self.child(task)
            if state == S.FAILED and str(task.common.get("allowFailure", "")).lower() == "true":
                state = S.WARNING
            if state in _FAILING:
                return state
            result = max(result, state, key=engine._SEVERITY.__getitem__)
        return result

    def child(self, task: TaskSpec) -> State:
        child = TaskRun.objects.create(
            execution=self.execution,
            task_id=task.id,
            parent=self.run,
            value=self.run.value,
            history=[{"state": S.CREATED.value, "date": template_context.iso(timezone.now())}],
        )
        engine._send(child, None, S.CREATED.value)
        engine.transition(child, S.RUNNING, attempts=F("attempts") + 1)
        try:
            outputs = self._execute(child, task)
        except control.TaskKilled:
            control.acknowledge_kill(child)
            raise
        except registry.StepError as exc:
            return self._failed(child, exc.message)
        except templating.TemplateError as exc:
            return self._failed(child, f"cannot render properties: {exc}")
        except failures.TaskInterrupted:
            self._failed(child, f"stopped: {self.ctx.interrupt_reason or 'the WorkingDirectory timed out'}")
            raise
        except Exception as exc:  # a plugin bug fails the child, as on a worker
            return self._failed(child, f"{type(exc).__name__}: {exc}")
        engine.transition(child, S.SUCCESS, outputs=outputs)
        return S.SUCCESS

    def _execute(self, child: TaskRun, task: TaskSpec) -> dict[str, Any]:
        from .worker import TaskRunContext

        task_type = registry.lookup(task.type)
        if task_type is None or task_type.run is None:
            raise registry.StepError(f"task type '{task.type}' cannot run in a WorkingDirectory")
        runs = list(self.execution.task_runs.only(*_CONTEXT_FIELDS))
        context = template_context.build(self.execution, self.flow, runs, taskrun=child, task=task)
        props = task_type.validate_props(templating.render(task.props, context))
        ctx = TaskRunContext(child, self.secrets)
        ctx.interrupted = self.ctx.interrupted  # the directory's timeout stops the child at work too
        ctx.working_dir = self.directory  # type: ignore[attr-defined]  (LocalFiles and friends read it)
        return dict(task_type.run(props, ctx) or {})

    def _failed(self, child: TaskRun, message: str) -> State:
        engine.transition(child, S.FAILED, error=message)
        engine.log(self.execution, child, "ERROR", message, self.secrets)
        return S.FAILED


def _replace_earlier_attempt(run: TaskRun) -> None:
    """A retried or re-queued WorkingDirectory starts over: drop the child runs of the lost attempt."""
    stale = TaskRun.objects.filter(parent=run)
    for child in stale.exclude(state__in=[s.value for s in TERMINAL]):
        engine.transition(child, S.KILLED, reason="its WorkingDirectory attempt was replaced")
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
            raise registry.StepError(f"task '{wd_run.task_id}' is not in the flow")
        cache = props.cache
        try:
            if cache:
                _restore_cache(wd_run, cache, directory)
            write_inputs(directory, _file_map(props.inputFiles), wd_run.execution)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise registry.StepError(f"cannot prepare the working directory: {exc}") from None
        branch = task.branches.get
        state = runner.sequence(branch("tasks", []))
        if state in _FAILING and branch("errors"):
            runner.sequence(branch("errors", []))
        if branch("finally"):
            after = runner.sequence(branch("finally", []))
            state = max(state, after, key=engine._SEVERITY.__getitem__)
        if state in _FAILING:
            raise registry.StepError("a task in the working directory failed", permanent=False)
        outputs: dict[str, Any] = {}
        if props.outputFiles:
            patterns = [props.outputFiles] if isinstance(props.outputFiles, str) else props.outputFiles
            outputs["outputFiles"] = upload_matches(directory, patterns, storage.taskrun_prefix(wd_run))
        if cache:
            _save_cache(wd_run, cache, directory)
    return outputs


def _file_map(raw: Any) -> dict[str, Any]:
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise registry.StepError("inputFiles must be a map of file name to content") from None
    if not isinstance(raw, dict):
        raise registry.StepError("inputFiles must be a map of file name to content")
    return raw
