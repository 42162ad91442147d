"""Task type registry: the one place mapping a Kestra type name to its schema and behaviour.

Each task type declares its properties once, as a pydantic model with ``extra="forbid"``; the spec
loader validates flows against it, the engine validates rendered values against it before ``run``,
and ``json_schema`` serves the same model to editors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

# Part of the task API: ``return {"password": Secret(value)}`` stores it encrypted and shows ``******``.
from orchestrator.flowmodel.secrets_at_rest import Secret

__all__ = ["OUTPUT_DIR", "RunContext", "Secret", "StepError", "TaskType", "register"]


class StepError(Exception):
    """A task failed. ``permanent=False`` lets the engine retry it under the task's retry policy."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class RunContext(Protocol):
    """What a task's ``run`` may use; the worker provides the implementation.

    Plugins sit beside the executor, not above it: what a task needs from the engine (resuming an
    execution, running a WorkingDirectory's children) is asked of its context, never imported.
    """

    execution_id: str
    taskrun_id: str
    task_id: str
    attempt: int

    def log(self, level: str, message: str) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def warn(self, reason: str) -> None:
        """End the task WARNING instead of SUCCESS once ``run`` returns (e.g. ``warningOnStdErr``)."""
        ...

    def resume_execution(self, execution_id: str, inputs: dict[str, Any]) -> bool:
        """Resume a PAUSED execution with ``inputs`` for its Pause's ``onResume``; False when it is not
        paused. Refused inputs or a refused resume raise ``StepError``."""
        ...

    def run_children(self, props: BaseModel) -> dict[str, Any]:
        """Run a WorkingDirectory's children inline on this worker, in one temporary directory."""
        ...

    def created(
        self,
        *,
        provider_id: str = "",
        state_key: str = "",
        name: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Something now exists at a provider (a server id, or a Terraform state about to hold
        resources): recorded at once and committed, so nothing is orphaned if the run dies later.
        Call it again on a retry that adopts the same object (receivers are idempotent)."""
        ...


RunFn = Callable[[BaseModel, RunContext], dict[str, Any]]
# Inside a task's working directory: where files to keep go (Kestra's ``{{ outputDir }}``, OUTPUT_DIR).
OUTPUT_DIR = ".outputs"


def working_dir_vars(directory: Path) -> dict[str, str]:
    """Kestra's template variables for a task with a working directory."""
    return {"workingDir": str(directory), "outputDir": str(directory / OUTPUT_DIR)}


@dataclass(frozen=True)
class TaskType:
    name: str
    aliases: tuple[str, ...]
    props_model: type[BaseModel]
    flowable: bool = False
    branches: tuple[str, ...] = ()
    run: RunFn | None = None
    kind: str = "task"  # "task" or "trigger"
    input_props: tuple[str, ...] = ()  # props holding input definitions (Pause.onResume), checked like inputs
    required_branches: tuple[str, ...] | None = None  # None: "tasks" when it is a branch
    extra: dict[str, Any] = field(default_factory=dict)
    # Branches with another shape than a task list: a mapping name -> task list (Switch ``cases``,
    # parsed as "cases.<name>"), or a list of ``{task, dependsOn}`` items (Dag ``tasks``; the
    # dependencies land in each child's ``common["dependsOn"]`` and are checked at load).
    mapped_branches: tuple[str, ...] = ()
    dependency_branches: tuple[str, ...] = ()
    runnable_branches: tuple[str, ...] = ()  # branches that may hold only runnable (non-flowable) tasks
    # The worker gives each attempt its own temporary directory (``RunContext.working_dir``) and the
    # templates Kestra's ``workingDir`` / ``outputDir`` (scripts); it is removed after the attempt.
    working_dir: bool = False

    @property
    def mandatory_branches(self) -> tuple[str, ...]:
        if self.required_branches is not None:
            return self.required_branches
        return ("tasks",) if "tasks" in self.branches else ()

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def validate_props(self, props: dict[str, Any]) -> BaseModel:
        """Validate rendered property values; a mismatch is a permanent ``StepError``."""
        try:
            return self.props_model.model_validate(props)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(task)'}: {err['msg']}" for err in exc.errors()
            )
            raise StepError(f"invalid properties for {self.short_name}: {problems}") from exc


_types: dict[str, TaskType] = {}
_names: dict[str, str] = {}  # full names and old names -> canonical name
_short: dict[str, set[str]] = {}  # short alias -> canonical names claiming it


def register(
    name: str,
    *,
    aliases: tuple[str, ...] | list[str] = (),
    props: type[BaseModel],
    flowable: bool = False,
    branches: tuple[str, ...] = (),
    kind: str = "task",
    input_props: tuple[str, ...] = (),
    required_branches: tuple[str, ...] | None = None,
    mapped_branches: tuple[str, ...] = (),
    dependency_branches: tuple[str, ...] = (),
    runnable_branches: tuple[str, ...] = (),
    working_dir: bool = False,
) -> Callable[[Any], Any]:
    """Decorator registering ``run`` under ``name``, its old Kestra names and its short name.

    Aliases containing a dot are old full names (always unique); the short name (last segment) and
    dot-less aliases resolve only while exactly one registered type claims them. Flowable types may
    decorate anything (a class or a stub); their ``run`` is stored as None.
    """

    if props.model_config.get("extra") != "forbid":
        # Every property a flow sets must be one the type declares: a typo is refused at load, never
        # accepted and ignored. Third-party plugins are held to the same rule.
        raise TypeError(f"{name}: the properties model {props.__name__} must set extra='forbid'")

    def decorator(fn: Any) -> Any:
        task_type = TaskType(
            name=name,
            aliases=tuple(aliases),
            props_model=props,
            flowable=flowable,
            branches=tuple(branches),
            run=None if flowable else fn,
            kind=kind,
            input_props=tuple(input_props),
            required_branches=required_branches,
            mapped_branches=tuple(mapped_branches),
            dependency_branches=tuple(dependency_branches),
            runnable_branches=tuple(runnable_branches),
            working_dir=working_dir,
        )
        _add(task_type)
        return fn

    return decorator


def _add(task_type: TaskType) -> None:
    _types[task_type.name] = task_type
    _names[task_type.name] = task_type.name
    shorts = {task_type.short_name}
    for alias in task_type.aliases:
        if "." in alias:
            _names[alias] = task_type.name
        else:
            shorts.add(alias)
    for short in shorts:
        _short.setdefault(short, set()).add(task_type.name)


def unregister(name: str) -> None:
    """Remove a type (tests that register throw-away types clean up with this)."""
    task_type = _types.pop(name, None)
    if task_type is None:
        return
    for key in [k for k, v in _names.items() if v == name]:
        del _names[key]
    for claimants in _short.values():
        claimants.discard(name)


def lookup(type_name: str) -> TaskType | None:
    """Find a type by full name, old full name or unambiguous short alias."""
    if not isinstance(type_name, str):
        return None
    canonical = _names.get(type_name)
    if canonical is None:
        claimants = _short.get(type_name, set())
        if len(claimants) != 1:
            return None
        canonical = next(iter(claimants))
    return _types.get(canonical)


def all_types() -> Iterator[TaskType]:
    return iter(sorted(_types.values(), key=lambda t: t.name))


def json_schema(type_name: str) -> dict[str, Any] | None:
    """JSON Schema of a type's properties (for editors and docs), from its pydantic model."""
    task_type = lookup(type_name)
    if task_type is None:
        return None
    schema = task_type.props_model.model_json_schema()
    schema["title"] = task_type.name
    return schema
