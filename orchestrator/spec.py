"""Parse and validate flows written in Kestra's YAML format.

Every problem is reported as ``file:line: path: message`` so that an author can jump straight to it;
the loader collects all problems of a file instead of stopping at the first. Task property schemas come
from the registry (one pydantic model per type), so this module knows the *shape* of a flow, not the
details of each task type.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import registry
from .durations import parse_duration
from .kestra_names import is_known_unsupported
from .spec_inputs import INPUT_ID, InputParser, InputSpec
from .templating import has_template, template_strings
from .yamlsource import item_line, key_line, load, plain, type_name, value_line

FLOW_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
NAMESPACE = re.compile(r"[a-z0-9][a-z0-9._-]*")
TASK_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
TYPE_NAME = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*")
FLOW_ID_MAX, NAMESPACE_MAX, TASK_ID_MAX = 100, 150, 256

# Top-level keys Kestra accepts. Those we parse are named in ``parse_flow``; the rest (scheduling,
# concurrency, SLA...) are accepted and kept in ``Flow.extra`` so valid Kestra flows still load.
FLOW_KEYS = frozenset(
    "id namespace revision description labels inputs outputs variables tasks errors finally afterExecution "
    "listeners triggers pluginDefaults taskDefaults concurrency retry sla checks disabled deleted "
    "workerGroup workerSelector".split()
)
_PARSED_FLOW_KEYS = frozenset(
    "id namespace description labels inputs outputs variables tasks errors finally afterExecution triggers "
    "disabled".split()
)
# Keys every task has (Kestra's Task base class); kept in ``TaskSpec.common``.
COMMON_TASK_KEYS = frozenset(
    "description retry timeout disabled workerGroup logLevel allowFailure logToFile runIf allowWarning "
    "taskCache version pluginDefaultsRef".split()
)
TRIGGER_COMMON_KEYS = frozenset(
    "description conditions disabled stopAfter logLevel logToFile workerGroup minLogLevel failOnTriggerError "
    "allowConcurrent version pluginDefaultsRef interval".split()
)
RETRY_KEYS = {  # type -> (required, optional)
    "constant": ({"interval"}, {"maxInterval"}),
    "exponential": ({"interval", "maxInterval"}, {"delayFactor"}),
    "random": ({"minInterval", "maxInterval"}, set()),
}
RETRY_COMMON = {"type", "maxAttempt", "maxDuration", "warningOnRetry", "behavior"}
RETRY_DURATIONS = {"interval", "maxInterval", "minInterval", "maxDuration"}
OUTPUT_KEYS = {"id", "type", "value", "description", "displayName", "required"}
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
SYSTEM_LABEL_PREFIX = "system."
SUBFLOW_TYPE = "io.kestra.plugin.core.flow.Subflow"
ALLOWED_SYSTEM_LABELS = {"system.readOnly"}  # the one system label Kestra lets authors set


# --------------------------------------------------------------------------------------------- errors


class FlowError(Exception):
    """One problem in one flow file, located by line and field path."""

    def __init__(self, file: str, line: int, path: str, message: str) -> None:
        super().__init__(file, line, path, message)
        self.file, self.line, self.path, self.message = file, line, path, message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"

    @property
    def not_supported(self) -> bool:
        """True for problems that are missing features on our side, not mistakes in the flow."""
        return self.message.endswith("is not supported yet")


class FlowValidationError(Exception):
    """All problems found in one flow; ``str`` lists them one per line."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line))
        super().__init__("\n".join(str(e) for e in self.errors))


# ---------------------------------------------------------------------------------------------- model


@dataclass
class TaskSpec:
    id: str
    type: str
    props: dict[str, Any] = field(default_factory=dict)
    common: dict[str, Any] = field(default_factory=dict)
    branches: dict[str, list[TaskSpec]] = field(default_factory=dict)
    line: int = 0
    path: str = ""

    def walk(self) -> Iterator[TaskSpec]:
        yield self
        for children in self.branches.values():
            for child in children:
                yield from child.walk()


@dataclass
class TriggerSpec:
    id: str
    type: str
    props: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    path: str = ""


@dataclass
class Flow:
    id: str
    namespace: str
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    inputs: list[InputSpec] = field(default_factory=list)
    tasks: list[TaskSpec] = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    outputs: list[dict] = field(default_factory=list)
    errors: list[TaskSpec] = field(default_factory=list)
    finally_: list[TaskSpec] = field(default_factory=list)
    triggers: list[TriggerSpec] = field(default_factory=list)
    disabled: bool = False
    source: str = ""
    file: str = "<string>"
    revision: str = ""
    after_execution: list[TaskSpec] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # accepted Kestra keys we do not act on yet
    # Problems Kestra only meets when the task runs (it loads the flow): reported, never refused.
    warnings: list[FlowError] = field(default_factory=list)

    def walk_tasks(self) -> Iterator[TaskSpec]:
        for task in [*self.tasks, *self.errors, *self.finally_, *self.after_execution]:
            yield from task.walk()

    def find_task(self, task_id: str) -> TaskSpec | None:
        return next((t for t in self.walk_tasks() if t.id == task_id), None)

    def label(self, key: str, default: str | None = None) -> str | None:
        return self.labels.get(key, default)

    @property
    def needs_approval(self) -> bool:
        return self.label("portico.approval") != "none"

    @property
    def input_map(self) -> dict[str, InputSpec]:
        return {spec.id: spec for spec in self.inputs}


class _Context:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[FlowError] = []
        self.warnings: list[FlowError] = []

    def error(self, line: int, path: str, message: str) -> None:
        self.errors.append(FlowError(self.file, line, path or "flow", message))

    def warn(self, line: int, path: str, message: str) -> None:
        self.warnings.append(FlowError(self.file, line, path or "flow", message))


# ---------------------------------------------------------------------------------------- the parser


class _Parser(InputParser):
    def __init__(self, ctx: _Context) -> None:
        super().__init__(ctx)
        self.task_ids: dict[str, int] = {}

    # -- flow
    def flow(self, doc: Any, text: str) -> Flow | None:
        ctx = self.ctx
        if doc is None:
            ctx.error(1, "flow", "empty document: a flow needs id, namespace and tasks")
            return None
        if not isinstance(doc, dict):
            ctx.error(getattr(doc, "line", 1), "flow", f"must be a mapping, got {type_name(doc)}")
            return None
        for key in doc:
            if key not in FLOW_KEYS:
                ctx.error(key_line(doc, key), str(key), "unknown property")
        flow_id = self._identifier(doc, "id", "id", FLOW_ID, FLOW_ID_MAX)
        namespace = self._identifier(doc, "namespace", "namespace", NAMESPACE, NAMESPACE_MAX)
        description = self._optional_string(doc, "description", "description")
        labels = self._labels(doc)
        inputs = self._inputs(doc.get("inputs"), doc) if "inputs" in doc else []
        variables = self._mapping(doc, "variables", "variables")
        outputs = self._outputs(doc)
        tasks = self._task_list(doc, "tasks", "tasks", required=True)
        errors = self._task_list(doc, "errors", "errors")
        finally_ = self._task_list(doc, "finally", "finally")
        after_execution = self._task_list(doc, "afterExecution", "afterExecution")
        self._listeners(doc)
        triggers = self._triggers(doc)
        disabled = self._boolean(doc, "disabled", "disabled", False)
        self._flow_retry(doc)
        self._concurrency(doc)
        self._input_dependencies(doc.get("inputs"), inputs)
        all_tasks = [t for top in [*tasks, *errors, *finally_, *after_execution] for t in top.walk()]
        self._dashed_references(inputs, all_tasks)
        self._self_calls(namespace, flow_id, all_tasks)
        extra = {k: plain(v) for k, v in doc.items() if k in FLOW_KEYS and k not in _PARSED_FLOW_KEYS}
        return Flow(
            id=flow_id or "",
            namespace=namespace or "",
            description=description,
            labels=labels,
            inputs=inputs,
            tasks=tasks,
            variables=variables,
            outputs=outputs,
            errors=errors,
            finally_=finally_,
            triggers=triggers,
            disabled=disabled,
            source=text,
            file=ctx.file,
            revision=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            after_execution=after_execution,
            extra=extra,
        )

    def _self_calls(self, namespace: str | None, flow_id: str | None, tasks: list[TaskSpec]) -> None:
        """Kestra refuses a flow that starts itself as a subflow: it would recurse without end."""
        for task in tasks:
            if task.type != SUBFLOW_TYPE:
                continue
            if task.props.get("namespace") == namespace and task.props.get("flowId") == flow_id:
                self.ctx.error(task.line, f"{task.path}.flowId", "a flow cannot start itself as a subflow")

    # -- scalars
    def _identifier(self, doc: dict, key: str, path: str, pattern: re.Pattern, max_len: int) -> str | None:
        if key not in doc or doc[key] is None:
            self.ctx.error(getattr(doc, "line", 1), path, "required property missing")
            return None
        value = doc[key]
        line = value_line(doc, key)
        if not isinstance(value, str):
            self.ctx.error(line, path, f"must be a string, got {type_name(value)}")
            return None
        if not pattern.fullmatch(value):
            self.ctx.error(line, path, f"'{value}' must match ^{pattern.pattern}$")
            return None
        if len(value) > max_len:
            self.ctx.error(line, path, f"must be at most {max_len} characters long")
            return None
        return value

    def _mapping(self, doc: dict, key: str, path: str) -> dict:
        value = doc.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.ctx.error(value_line(doc, key), path, f"must be a mapping, got {type_name(value)}")
            return {}
        return plain(value)

    def _duration(self, value: Any, line: int, path: str) -> None:
        if value is None or has_template(value):
            return
        try:
            parse_duration(value)
        except ValueError as exc:
            self.ctx.error(line, path, str(exc))

    # -- labels
    def _labels(self, doc: dict) -> dict[str, str]:
        raw = doc.get("labels")
        labels: dict[str, str] = {}
        if raw is None:
            return labels
        entries: list[tuple[Any, Any, int, str]] = []
        if isinstance(raw, dict):
            entries = [(k, v, key_line(raw, k), f"labels.{k}") for k, v in raw.items()]
        elif isinstance(raw, list):
            for index, item in enumerate(raw):
                path = f"labels[{index}]"
                line = item_line(raw, index)
                if not isinstance(item, dict) or set(item) - {"key", "value"} or "key" not in item:
                    self.ctx.error(line, path, "must be a mapping with 'key' and 'value'")
                    continue
                entries.append((item["key"], item.get("value"), line, path))
        else:
            self.ctx.error(
                value_line(doc, "labels"),
                "labels",
                f"must be a mapping or a list of key/value pairs, got {type_name(raw)}",
            )
            return labels
        for key, value, line, path in entries:
            if not isinstance(key, str) or not key:
                self.ctx.error(line, path, "label keys must be non-empty strings")
            elif key.startswith(SYSTEM_LABEL_PREFIX) and key not in ALLOWED_SYSTEM_LABELS:
                self.ctx.error(
                    line, path, f"system labels ('{SYSTEM_LABEL_PREFIX}*') can only be set by the engine"
                )
            elif isinstance(value, (dict, list)):
                self.ctx.error(line, path, f"label values must be scalars, got {type_name(value)}")
            elif key in labels:
                self.ctx.error(line, path, f"duplicate label '{key}'")
            else:
                # Kestra accepts primitive label values and keeps their text.
                labels[key] = (
                    "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
                )
        return labels

    def _dashed_references(self, specs: list[InputSpec], tasks: list[TaskSpec]) -> None:
        """``{{ inputs.my-input }}`` parses as a subtraction: Kestra rejects it, and so do we."""
        patterns = [
            (f"inputs.{s.id}", re.compile(r"\{\{\s*inputs\." + re.escape(s.id) + r"\s*\}\}"))
            for s in specs
            if "-" in s.id
        ]
        patterns += [
            (f"outputs.{t.id}", re.compile(r"\{\{\s*outputs\." + re.escape(t.id) + r"\.[^}]+\}\}"))
            for t in tasks
            if "-" in t.id
        ]
        if not patterns:
            return
        for task in tasks:
            texts = list(template_strings({**task.props, **task.common}, keys=False))
            for reference, pattern in patterns:
                if any(pattern.search(text) for text in texts):
                    root, key = reference.split(".", 1)
                    self.ctx.error(
                        task.line,
                        task.path,
                        f"write {root}['{key}'] instead of {reference}: names with dashes need brackets",
                    )

    # -- outputs
    def _outputs(self, doc: dict) -> list[dict]:
        raw = doc.get("outputs")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, "outputs"), "outputs", f"must be a list, got {type_name(raw)}")
            return []
        seen: set[str] = set()
        outputs = []
        for index, item in enumerate(raw):
            path, line = f"outputs[{index}]", item_line(raw, index)
            if not isinstance(item, dict):
                self.ctx.error(line, path, f"must be a mapping, got {type_name(item)}")
                continue
            for key in item:
                if key not in OUTPUT_KEYS:
                    self.ctx.error(key_line(item, key), f"{path}.{key}", "unknown property")
            output_id = item.get("id")
            if not isinstance(output_id, str) or not INPUT_ID.fullmatch(output_id):
                self.ctx.error(
                    value_line(item, "id"),
                    f"{path}.id",
                    "required property missing"
                    if output_id is None
                    else f"'{output_id}' must match ^{INPUT_ID.pattern}$",
                )
            elif output_id in seen:
                self.ctx.error(value_line(item, "id"), f"{path}.id", f"duplicate output id '{output_id}'")
            else:
                seen.add(output_id)
            if "value" not in item:
                self.ctx.error(line, f"{path}.value", "required property missing")
            if "type" in item and canonical_input_type(item["type"]) is None:
                self.ctx.error(
                    value_line(item, "type"), f"{path}.type", f"unknown output type '{item['type']}'"
                )
            outputs.append(plain(item))
        return outputs

    # -- tasks
    def _task_list(self, doc: dict, key: str, path: str, *, required: bool = False) -> list[TaskSpec]:
        raw = doc.get(key)
        if raw is None:
            if required:
                self.ctx.error(
                    key_line(doc, key),
                    path,
                    "required property missing" if key not in doc else "must not be empty",
                )
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, key), path, f"must be a list of tasks, got {type_name(raw)}")
            return []
        if required and not raw:
            self.ctx.error(value_line(doc, key), path, "must not be empty")
        tasks = []
        for index, item in enumerate(raw):
            task = self._task(item, f"{path}[{index}]", item_line(raw, index))
            if task is not None:
                tasks.append(task)
        return tasks

    def _task(self, item: Any, path: str, line: int) -> TaskSpec | None:
        ctx = self.ctx
        if not isinstance(item, dict):
            ctx.error(line, path, f"must be a task mapping, got {type_name(item)}")
            return None
        task_id = item.get("id")
        if task_id is None:
            ctx.error(line, f"{path}.id", "required property missing")
        elif not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id) or len(task_id) > TASK_ID_MAX:
            ctx.error(value_line(item, "id"), f"{path}.id", f"'{task_id}' must match ^{TASK_ID.pattern}$")
        elif task_id in self.task_ids:
            ctx.error(
                value_line(item, "id"),
                f"{path}.id",
                f"duplicate task id '{task_id}' (first defined at line {self.task_ids[task_id]})",
            )
        else:
            self.task_ids[task_id] = value_line(item, "id")
        task_type = self._resolve_type(item, path, kind="task")
        if task_type is None:
            # Still walk nested lists of tasks so their problems (and ids) are reported too.
            for key in ("tasks", "errors", "finally", "then", "else"):
                nested = item.get(key)
                if (
                    isinstance(nested, list)
                    and nested
                    and all(isinstance(t, dict) and "type" in t for t in nested)
                ):
                    self._task_list(item, key, f"{path}.{key}")
            return None
        common = self._common(item, path)
        branches: dict[str, list[TaskSpec]] = {}
        props: dict[str, Any] = {}
        for key, value in item.items():
            if key in ("id", "type") or key in COMMON_TASK_KEYS:
                continue
            if key in task_type.branches:
                required = key in task_type.mandatory_branches
                if key in task_type.mapped_branches:
                    branches.update(self._mapped_branch(item, key, f"{path}.{key}"))
                elif key in task_type.dependency_branches:
                    branches[key] = self._dependency_branch(item, key, f"{path}.{key}", required=required)
                else:
                    branches[key] = self._task_list(item, key, f"{path}.{key}", required=required)
                if key in task_type.runnable_branches:
                    self._runnable_only(branches[key], task_type.short_name)
            else:
                props[key] = value
        for key in task_type.mandatory_branches:
            if key not in item:
                ctx.error(line, f"{path}.{key}", "required property missing")
        self._validate_props(task_type, props, item, path, line)
        # Properties holding input definitions (e.g. Pause.onResume) follow the flow-input rules.
        for key in task_type.input_props:
            if key in item:
                self._inputs(item[key], item, key, f"{path}.{key}")
        self._check_templates(item, path, skip={"id", "type", *task_type.branches, *task_type.input_props})
        return TaskSpec(
            id=str(task_id),
            type=task_type.name,
            props=plain(props),
            common=plain(common),
            branches=branches,
            line=line,
            path=path,
        )

    def _runnable_only(self, tasks: list[TaskSpec], owner: str) -> None:
        """Kestra runs a WorkingDirectory's children on one worker: flowables cannot be among them."""
        for task in tasks:
            task_type = registry.lookup(task.type)
            if task_type is not None and task_type.flowable:
                self.ctx.error(
                    task.line,
                    task.path,
                    f"only runnable tasks are allowed in a {owner}, not the flowable '{task.type}'",
                )

    def _mapped_branch(self, doc: dict, key: str, path: str) -> dict[str, list[TaskSpec]]:
        """``cases: {name: [tasks]}`` -> ``{"cases.name": [...]}`` (names are compared as strings)."""
        raw = doc.get(key)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.ctx.error(
                value_line(doc, key), path, f"must be a mapping of task lists, got {type_name(raw)}"
            )
            return {}
        names = {name: str(name).lower() if isinstance(name, bool) else str(name) for name in raw}
        return {f"{key}.{text}": self._task_list(raw, name, f"{path}.{text}") for name, text in names.items()}

    def _dependency_branch(self, doc: dict, key: str, path: str, *, required: bool) -> list[TaskSpec]:
        """A Dag's ``[{task: {...}, dependsOn: [ids]}]``: every dependency names a sibling, no cycles."""
        raw = doc.get(key)
        if raw is None or not isinstance(raw, list) or (required and not raw):
            return self._task_list(doc, key, path, required=required)  # reports the shape problem
        tasks: list[TaskSpec] = []
        depends: dict[str, list[tuple[str, int, str]]] = {}
        for index, item in enumerate(raw):
            item_path, line = f"{path}[{index}]", item_line(raw, index)
            if not isinstance(item, dict):
                self.ctx.error(
                    line, item_path, f"must be a mapping with 'task' and 'dependsOn', got {type_name(item)}"
                )
                continue
            for extra in set(item) - {"task", "dependsOn"}:
                self.ctx.error(key_line(item, extra), f"{item_path}.{extra}", "unknown property")
            if "task" not in item:
                self.ctx.error(line, f"{item_path}.task", "required property missing")
                continue
            task = self._task(item["task"], f"{item_path}.task", value_line(item, "task", line))
            deps = item.get("dependsOn") or []
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                self.ctx.error(
                    value_line(item, "dependsOn"), f"{item_path}.dependsOn", "must be a list of task ids"
                )
                deps = []
            if task is None:
                continue
            task.common["dependsOn"] = list(deps)
            depends[task.id] = [
                (dep, item_line(item["dependsOn"], i), f"{item_path}.dependsOn[{i}]")
                for i, dep in enumerate(deps)
            ]
            tasks.append(task)
        for deps in depends.values():
            for dep, line, dep_path in deps:
                if dep not in depends:
                    self.ctx.error(
                        line, dep_path, f"unknown task '{dep}': dependsOn must name a task of this Dag"
                    )
        cycle = _find_cycle({t: [d for d, _, _ in deps if d in depends] for t, deps in depends.items()})
        if cycle:
            self.ctx.error(value_line(doc, key), path, "cyclic dependency: " + " -> ".join(cycle))
        return tasks

    def _check_templates(self, item: dict, path: str, skip: set[str]) -> None:
        """Compile every expression at load time so a syntax error is reported with its line.

        A warning, not an error: Kestra loads such a flow and fails the task when it renders, and our
        Pebble translation is not complete, so refusing could reject a flow Kestra runs.
        """
        from .templating import TemplateError, compile_template

        for key, value in item.items():
            if key in skip:
                continue
            for text in template_strings(value, keys=False):
                try:
                    compile_template(text)
                except TemplateError as exc:
                    self.ctx.warn(
                        value_line(item, key), f"{path}.{key}", f"{exc} (the task fails when it runs)"
                    )
                    break

    def _resolve_type(self, item: dict, path: str, *, kind: str) -> registry.TaskType | None:
        type_name = item.get("type")
        if type_name is None:
            self.ctx.error(getattr(item, "line", 1), f"{path}.type", "required property missing")
            return None
        line = value_line(item, "type")
        if not isinstance(type_name, str) or not TYPE_NAME.fullmatch(type_name):
            self.ctx.error(line, f"{path}.type", f"invalid type name {type_name!r}")
            return None
        task_type = registry.lookup(type_name)
        if task_type is None:
            if is_known_unsupported(type_name):
                self.ctx.error(line, f"{path}.type", f"{kind} type '{type_name}' is not supported yet")
            else:
                self.ctx.error(line, f"{path}.type", f"unknown {kind} type '{type_name}'")
            return None
        if task_type.kind != kind:
            self.ctx.error(
                line, f"{path}.type", f"'{type_name}' is a {task_type.kind} type, not a {kind} type"
            )
            return None
        return task_type

    def _common(self, item: dict, path: str) -> dict[str, Any]:
        common = {k: v for k, v in item.items() if k in COMMON_TASK_KEYS}
        for key in ("disabled", "allowFailure", "allowWarning", "logToFile"):
            if key in item:
                self._boolean(item, key, f"{path}.{key}", False)
        if "timeout" in item:
            self._duration(item["timeout"], value_line(item, "timeout"), f"{path}.timeout")
        if "logLevel" in item and item["logLevel"] not in LOG_LEVELS:
            self.ctx.error(
                value_line(item, "logLevel"),
                f"{path}.logLevel",
                "must be one of: TRACE, DEBUG, INFO, WARN, ERROR",
            )
        if "runIf" in item and not isinstance(item["runIf"], (str, bool)):
            self.ctx.error(value_line(item, "runIf"), f"{path}.runIf", "must be a string or a boolean")
        if "retry" in item:
            self._retry(item["retry"], value_line(item, "retry"), f"{path}.retry")
        return common

    def _retry(self, retry: Any, line: int, path: str) -> None:
        if not isinstance(retry, dict):
            self.ctx.error(line, path, f"must be a mapping, got {type_name(retry)}")
            return
        kind = retry.get("type")
        if kind not in RETRY_KEYS:
            self.ctx.error(
                value_line(retry, "type", line),
                f"{path}.type",
                "required property missing"
                if kind is None
                else f"unknown retry type '{kind}' (use constant, exponential or random)",
            )
            return
        required, optional = RETRY_KEYS[kind]
        for key in retry:
            if key not in required | optional | RETRY_COMMON:
                self.ctx.error(key_line(retry, key), f"{path}.{key}", f"unknown property for a {kind} retry")
        for key in required - set(retry):
            self.ctx.error(line, f"{path}.{key}", "required property missing")
        for key in RETRY_DURATIONS & set(retry):
            self._duration(retry[key], value_line(retry, key), f"{path}.{key}")
        attempts = retry.get("maxAttempt")
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            self.ctx.error(value_line(retry, "maxAttempt"), f"{path}.maxAttempt", "must be an integer ≥ 1")
        behavior = retry.get("behavior")
        if behavior is not None and behavior not in ("RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"):
            self.ctx.error(
                value_line(retry, "behavior"),
                f"{path}.behavior",
                "must be RETRY_FAILED_TASK or CREATE_NEW_EXECUTION",
            )

    def _flow_retry(self, doc: dict) -> None:
        if "retry" in doc:
            self._retry(doc["retry"], value_line(doc, "retry"), "retry")

    def _concurrency(self, doc: dict) -> None:
        if "concurrency" not in doc:
            return
        from .concurrency import problems  # the rules live with the behaviour

        raw = doc["concurrency"]
        for path, message in problems(raw):
            key = path.rsplit(".", 1)[-1]
            inside = isinstance(raw, dict) and key in raw
            line = key_line(raw, key) if inside else value_line(doc, "concurrency")
            self.ctx.error(line, path, message)

    def _validate_props(
        self, task_type: registry.TaskType, props: dict, item: dict, path: str, line: int
    ) -> None:
        try:
            task_type.props_model.model_validate(plain(props))
        except ValidationError as exc:
            reported: set[str] = set()
            for err in exc.errors():
                loc = err["loc"]
                if not loc:
                    continue
                field_name = loc[0]
                field_path = f"{path}.{field_name}"
                if field_path in reported:
                    continue
                if err["type"] == "extra_forbidden":
                    self.ctx.error(key_line(item, field_name, line), field_path, "unknown property")
                elif err["type"] == "missing":
                    self.ctx.error(line, field_path, "required property missing")
                else:
                    value = props.get(field_name)
                    if _contains_template(value):
                        continue  # rendered at run time; checked then
                    self.ctx.error(value_line(item, field_name, line), field_path, _pydantic_message(err))
                reported.add(field_path)

    # -- listeners (deprecated in Kestra, still accepted: only their tasks matter)
    def _listeners(self, doc: dict) -> None:
        raw = doc.get("listeners")
        if raw is None:
            return
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, "listeners"), "listeners", f"must be a list, got {type_name(raw)}")
            return
        for index, item in enumerate(raw):
            path = f"listeners[{index}]"
            if not isinstance(item, dict):
                self.ctx.error(item_line(raw, index), path, f"must be a mapping, got {type_name(item)}")
                continue
            for key in item:
                if key not in ("tasks", "conditions", "description"):
                    self.ctx.error(key_line(item, key), f"{path}.{key}", "unknown property")
            self._task_list(item, "tasks", f"{path}.tasks", required=True)
            conditions = item.get("conditions")
            if isinstance(conditions, list):
                for c_index, condition in enumerate(conditions):
                    if isinstance(condition, dict):
                        self._resolve_type(condition, f"{path}.conditions[{c_index}]", kind="condition")

    # -- triggers
    def _triggers(self, doc: dict) -> list[TriggerSpec]:
        raw = doc.get("triggers")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, "triggers"), "triggers", f"must be a list, got {type_name(raw)}")
            return []
        triggers: list[TriggerSpec] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            path, line = f"triggers[{index}]", item_line(raw, index)
            if not isinstance(item, dict):
                self.ctx.error(line, path, f"must be a mapping, got {type_name(item)}")
                continue
            trigger_id = item.get("id")
            if trigger_id is None:
                self.ctx.error(line, f"{path}.id", "required property missing")
            elif not isinstance(trigger_id, str) or not TASK_ID.fullmatch(trigger_id):
                self.ctx.error(
                    value_line(item, "id"), f"{path}.id", f"'{trigger_id}' must match ^{TASK_ID.pattern}$"
                )
            elif trigger_id in seen:
                self.ctx.error(
                    value_line(item, "id"),
                    f"{path}.id",
                    f"duplicate trigger id '{trigger_id}' (first defined at line {seen[trigger_id]})",
                )
            else:
                seen[trigger_id] = value_line(item, "id")
            trigger_type = self._resolve_type(item, path, kind="trigger")
            if trigger_type is None:
                continue
            props = {
                k: v for k, v in item.items() if k not in ("id", "type") and k not in TRIGGER_COMMON_KEYS
            }
            self._validate_props(trigger_type, props, item, path, line)
            triggers.append(
                TriggerSpec(
                    id=str(trigger_id), type=trigger_type.name, props=plain(item), line=line, path=path
                )
            )
        return triggers


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One dependency cycle as ``[a, b, ..., a]`` (in declaration order), or None."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done:
            return None
        for dep in graph.get(node, []):
            found = visit(dep, [*trail, node])
            if found:
                return found
        done.add(node)
        return None

    for node in graph:
        found = visit(node, [])
        if found:
            return found
    return None


def flag_set(value: Any) -> bool:
    """A boolean property as a flow writes it (``disabled``, ``allowWarning``, ``wait``, ...): YAML
    ``true`` or the string ``"true"`` in any case. Anything else, templates included, is false."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def canonical_input_type(name: Any) -> str | None:
    from .inputs import canonical_type

    return canonical_type(name)


def _contains_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_template(v) for v in value)
    return has_template(value)


def _pydantic_message(err: dict) -> str:
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return "must be one of: " + expected.replace("'", "").replace(" or ", ", ")
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message.replace("Input should be", "must be")


# ------------------------------------------------------------------------------------------- public


def parse_flow(text: str, file: str = "<string>") -> Flow:
    """Parse and validate one flow; raise ``FlowValidationError`` listing every problem found."""
    from . import plugins  # noqa: F401  (task types register on import)

    ctx = _Context(file)
    doc = load(text, ctx.error)
    flow = None
    if not ctx.errors:
        flow = _Parser(ctx).flow(doc, text)
    elif isinstance(doc, dict):
        _Parser(ctx).flow(doc, text)  # duplicate keys: report the rest too
    if ctx.errors or flow is None:
        raise FlowValidationError(ctx.errors)
    flow.warnings = ctx.warnings
    return flow


def parse_inputs(
    items: list[dict[str, Any]], *, path: str = "inputs", file: str = "<string>"
) -> list[InputSpec]:
    """Input definitions outside a flow's ``inputs`` (e.g. a Pause task's ``onResume`` form).

    Raises ``FlowValidationError`` with the same messages as in a flow (lines are unknown here: 0).
    """
    ctx = _Context(file)
    specs = _Parser(ctx)._inputs(items, {}, path, path)
    if ctx.errors:
        for error in ctx.errors:
            error.line = 0
        raise FlowValidationError(ctx.errors)
    return specs


def load_flow(path: str | Path) -> Flow:
    """Read and parse a flow file; errors name the file as ``path`` was given."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowValidationError([FlowError(name, 1, "flow", f"cannot read file: {exc}")]) from None
    return parse_flow(text, name)


def validate_files(paths: Iterable[str | Path], warnings: list[FlowError] | None = None) -> list[FlowError]:
    """Validate several flow files; also reports two files declaring the same namespace and id.

    Warnings of the files that load are appended to ``warnings`` when a list is given.
    """
    errors: list[FlowError] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        try:
            flow = load_flow(path)
        except FlowValidationError as exc:
            errors.extend(exc.errors)
            continue
        if warnings is not None:
            warnings.extend(flow.warnings)
        key = (flow.namespace, flow.id)
        if key in seen:
            errors.append(
                FlowError(
                    str(path), 1, "id", f"flow {flow.namespace}.{flow.id} is already defined in {seen[key]}"
                )
            )
        else:
            seen[key] = str(path)
    return errors
