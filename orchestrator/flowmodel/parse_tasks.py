"""Tasks of a flow: ids, types, the keys every task has, properties, and nested branches.

A flowable's branches (``tasks``, ``then``, ``cases``, a Dag's ``tasks``...) are parsed recursively with
the same rules; task ids are unique across the whole flow, so one ``TaskParser`` serves one flow.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.flowmodel import task_api, worker_group
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.flow_errors import ParseContext
from orchestrator.flowmodel.input_definitions import InputParser
from orchestrator.flowmodel.parse_types import TypeChecks
from orchestrator.flowmodel.parsed_flow import TaskSpec
from orchestrator.flowmodel.templating import TemplateError, compile_template, template_strings
from orchestrator.flowmodel.yamlsource import item_line, key_line, plain, type_name, value_line

TASK_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
TASK_ID_MAX = 256
# Keys every task has (Kestra's Task base class); kept in ``TaskSpec.common``.
COMMON_TASK_KEYS = frozenset(
    "description retry timeout disabled workerGroup logLevel allowFailure logToFile runIf allowWarning "
    "taskCache version pluginDefaultsRef".split()
)
# Common keys whose behaviour Portico lacks: refused at load, never kept and ignored.
REFUSED_TASK_KEYS = frozenset("version pluginDefaultsRef".split())
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
# Kestra's SwitchTaskValidator: a Switch needs tasks in ``cases`` or in ``defaults``.
_SWITCH = "io.kestra.plugin.core.flow.Switch"


class TaskParser(TypeChecks):
    """Parses lists of tasks; remembers the task ids seen so far to report duplicates."""

    def __init__(self, ctx: ParseContext, inputs: InputParser) -> None:
        super().__init__(ctx)
        self.inputs = inputs  # for properties holding input definitions (Pause.onResume)
        self.task_ids: dict[str, int] = {}

    def task_list(self, doc: dict, key: str, path: str, *, required: bool = False) -> list[TaskSpec]:
        """The tasks at ``doc[key]``; a task with problems is reported and left out."""
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
        task_type = self.resolve_type(item, path, kind="task")
        if task_type is None:
            # Still walk nested lists of tasks so their problems (and ids) are reported too.
            for key in ("tasks", "errors", "finally", "then", "else"):
                nested = item.get(key)
                if (
                    isinstance(nested, list)
                    and nested
                    and all(isinstance(t, dict) and "type" in t for t in nested)
                ):
                    self.task_list(item, key, f"{path}.{key}")
            return None
        common = self._common(item, path)
        if task_type.flowable and task_type.run is None:
            self._worker_only_keys(item, path)
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
                    branches[key] = self.task_list(item, key, f"{path}.{key}", required=required)
                if key in task_type.runnable_branches:
                    self._runnable_only(branches[key], task_type.short_name)
            else:
                props[key] = value
        for key in task_type.mandatory_branches:
            if key not in item:
                ctx.error(line, f"{path}.{key}", "required property missing")
        if task_type.name == _SWITCH:
            self._switch_has_tasks(item, branches, path, line)
        self.validate_props(task_type, props, item, path, line)
        # Properties holding input definitions (e.g. Pause.onResume) follow the flow-input rules.
        for key in task_type.input_props:
            if key in item:
                self.inputs.inputs(item[key], item, key, f"{path}.{key}")
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

    def _common(self, item: dict, path: str) -> dict[str, Any]:
        common = {k: v for k, v in item.items() if k in COMMON_TASK_KEYS}
        self.refuse(item, REFUSED_TASK_KEYS, path)
        for key in ("disabled", "allowFailure", "allowWarning", "logToFile"):
            if key in item:
                self.boolean(item, key, f"{path}.{key}", False)
        if "timeout" in item:
            self.duration(item["timeout"], value_line(item, "timeout"), f"{path}.timeout")
        if "logLevel" in item and item["logLevel"] not in LOG_LEVELS:
            self.ctx.error(
                value_line(item, "logLevel"),
                f"{path}.logLevel",
                "must be one of: TRACE, DEBUG, INFO, WARN, ERROR",
            )
        if "runIf" in item and not isinstance(item["runIf"], (str, bool)):
            self.ctx.error(value_line(item, "runIf"), f"{path}.runIf", "must be a string or a boolean")
        if "retry" in item:
            self.retry(item["retry"], value_line(item, "retry"), f"{path}.retry")
        if "workerGroup" in item:
            worker_group.check(self.ctx, item, f"{path}.workerGroup")
        if "taskCache" in item:
            self._task_cache(item, f"{path}.taskCache")
        return common

    def _task_cache(self, item: dict, path: str) -> None:
        """Kestra's ``Cache``: ``enabled`` (required boolean) and ``ttl`` (a plain ISO-8601 duration)."""
        value, line = item["taskCache"], value_line(item, "taskCache")
        if not isinstance(value, dict):
            self.ctx.error(line, path, f"must be a mapping with 'enabled' and 'ttl', got {type_name(value)}")
            return
        for extra in set(value) - {"enabled", "ttl"}:
            self.ctx.error(key_line(value, extra, line), f"{path}.{extra}", "unknown property")
        if "enabled" not in value:
            self.ctx.error(line, f"{path}.enabled", "required property missing")
        elif not isinstance(value["enabled"], bool):
            self.ctx.error(value_line(value, "enabled", line), f"{path}.enabled", "must be a boolean")
        ttl = value.get("ttl")
        if ttl is not None:
            try:
                parse_duration(ttl)
            except (TypeError, ValueError) as exc:
                self.ctx.error(value_line(value, "ttl", line), f"{path}.ttl", str(exc))

    def _worker_only_keys(self, item: dict, path: str) -> None:
        """A flowable is walked by the engine, never sent to a worker: Kestra ignores ``workerGroup`` and
        ``taskCache`` on one, so Portico loads the flow but says so instead of ignoring them silently."""
        for key in ("workerGroup", "taskCache"):
            if key in item:
                self.ctx.warn(
                    key_line(item, key),
                    f"{path}.{key}",
                    "has no effect on a flowable task: only runnable tasks run on a worker",
                )

    def _switch_has_tasks(
        self, item: dict, branches: dict[str, list[TaskSpec]], path: str, line: int
    ) -> None:
        """Kestra's SwitchTaskValidator: a Switch with no task in ``cases`` nor in ``defaults`` cannot run
        anything, so it is refused at load (a malformed ``cases``/``defaults`` is reported on its own)."""
        if not isinstance(item.get("cases") or {}, dict) or not isinstance(item.get("defaults") or [], list):
            return
        if not any(tasks for key, tasks in branches.items() if key.startswith("cases.") or key == "defaults"):
            self.ctx.error(line, path, "no task defined: neither cases nor defaults have any tasks")

    def _runnable_only(self, tasks: list[TaskSpec], owner: str) -> None:
        """Kestra runs a WorkingDirectory's children on one worker: flowables cannot be among them."""
        for task in tasks:
            task_type = task_api.lookup(task.type)
            if task_type is not None and task_type.flowable:
                self.ctx.error(
                    task.line,
                    task.path,
                    f"only runnable tasks are allowed in a {owner}, not the flowable '{task.type}'",
                )
            # Kestra's WorkingDirectoryTaskValidator: the group is the WorkingDirectory's, not a child's.
            if task.common.get("workerGroup") is not None:
                self.ctx.error(
                    task.line,
                    f"{task.path}.workerGroup",
                    f"cannot be set on a task inside a {owner}, only on the {owner} itself",
                )
            for key in ("logToFile", "taskCache"):  # run inline by working_directory.py, without them
                if task.common.get(key):
                    self.ctx.error(task.line, f"{task.path}.{key}", f"not supported yet inside a {owner}")

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
        return {f"{key}.{text}": self.task_list(raw, name, f"{path}.{text}") for name, text in names.items()}

    def _dependency_branch(self, doc: dict, key: str, path: str, *, required: bool) -> list[TaskSpec]:
        """A Dag's ``[{task: {...}, dependsOn: [ids]}]``: every dependency names a sibling, no cycles."""
        raw = doc.get(key)
        if raw is None or not isinstance(raw, list) or (required and not raw):
            return self.task_list(doc, key, path, required=required)  # reports the shape problem
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
