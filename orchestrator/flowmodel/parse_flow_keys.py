"""The top level of a flow document: its keys, and the checks that need the whole flow.

``FlowParser`` applies ``pluginDefaults`` first (``parse_plugin_defaults``), refuses the keys Portico
cannot honour, reads id, namespace, labels, variables, outputs, retry and concurrency itself,
hands inputs, tasks, triggers, ``sla`` and ``checks`` (``parse_sla_checks``) to their parsers, reads
``listeners``, then checks what spans them (input dependencies,
dashed names in expressions, a flow starting itself).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from orchestrator.flowmodel import conditions, input_types, worker_group
from orchestrator.flowmodel.concurrency_limits import problems as concurrency_problems
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED, ParseContext
from orchestrator.flowmodel.input_definitions import INPUT_ID, InputParser, InputSpec
from orchestrator.flowmodel.parse_plugin_defaults import PluginDefaultsParser
from orchestrator.flowmodel.parse_sla_checks import SlaChecksParser
from orchestrator.flowmodel.parse_tasks import TaskParser
from orchestrator.flowmodel.parse_triggers import TriggerParser
from orchestrator.flowmodel.parse_types import TypeChecks
from orchestrator.flowmodel.parsed_flow import Flow, ListenerSpec, TaskSpec
from orchestrator.flowmodel.templating import template_strings
from orchestrator.flowmodel.yamlsource import item_line, key_line, plain, type_name, value_line

FLOW_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
NAMESPACE = re.compile(r"[a-z0-9][a-z0-9._-]*")
FLOW_ID_MAX, NAMESPACE_MAX = 100, 150

# Top-level keys Kestra accepts. ``Flow.extra`` keeps the raw blocks the executor reads (``retry``,
# ``concurrency``) and Kestra's server-assigned ``revision`` (Kestra replaces it on save; so do we, with
# the source's hash). Keys whose behaviour Portico lacks are refused at load (``REFUSED_FLOW_KEYS``):
# accepting and ignoring them would run the flow differently from Kestra without a word.
FLOW_KEYS = frozenset(
    "id namespace revision description labels inputs outputs variables tasks errors finally afterExecution "
    "listeners triggers pluginDefaults taskDefaults concurrency retry sla checks disabled deleted "
    "workerGroup workerSelector".split()
)
REFUSED_FLOW_KEYS = frozenset("deleted workerSelector".split())
_PARSED_FLOW_KEYS = frozenset(
    "id namespace description labels inputs outputs variables tasks errors finally afterExecution triggers "
    "disabled pluginDefaults taskDefaults sla checks listeners".split()
)
LISTENER_KEYS = frozenset({"tasks", "conditions", "description"})
OUTPUT_KEYS = {"id", "type", "value", "description", "displayName", "required"}
SYSTEM_LABEL_PREFIX = "system."
ALLOWED_SYSTEM_LABELS = {"system.readOnly"}  # the one system label Kestra lets authors set
SUBFLOW_TYPE = "io.kestra.plugin.core.flow.Subflow"


class FlowParser(TypeChecks):
    """Parses one flow document; its input, task and trigger parsers report to the same context."""

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self.input_parser = InputParser(ctx)
        self.task_parser = TaskParser(ctx, self.input_parser)
        self.trigger_parser = TriggerParser(ctx)

    def flow(self, doc: Any, text: str) -> Flow | None:
        """The flow in ``doc`` (loaded from ``text``), or None if it is not even a mapping.

        Every problem goes to the context; a Flow is returned even when some were found.
        """
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
        self.refuse(doc, REFUSED_FLOW_KEYS, "")
        PluginDefaultsParser(ctx).apply(doc)  # before the parsers see the tasks and triggers
        flow_id = self._identifier(doc, "id", "id", FLOW_ID, FLOW_ID_MAX)
        namespace = self._identifier(doc, "namespace", "namespace", NAMESPACE, NAMESPACE_MAX)
        description = self.optional_string(doc, "description", "description")
        labels = self._labels(doc)
        inputs = self.input_parser.inputs(doc.get("inputs"), doc) if "inputs" in doc else []
        variables = self._mapping(doc, "variables", "variables")
        outputs = self._outputs(doc)
        task_list = self.task_parser.task_list
        tasks = task_list(doc, "tasks", "tasks", required=True)
        errors = task_list(doc, "errors", "errors")
        finally_ = task_list(doc, "finally", "finally")
        after_execution = task_list(doc, "afterExecution", "afterExecution")
        listeners = self._listeners(doc)
        sla = SlaChecksParser(ctx).sla(doc)
        checks = SlaChecksParser(ctx).checks(doc)
        triggers = self.trigger_parser.triggers(doc)
        disabled = self.boolean(doc, "disabled", "disabled", False)
        if "retry" in doc:
            self.retry(doc["retry"], value_line(doc, "retry"), "retry")
        self._concurrency(doc)
        if "workerGroup" in doc:  # the default group of every task (worker_group.of_task)
            worker_group.check(ctx, doc, "workerGroup")
        self.input_parser.input_dependencies(doc.get("inputs"), inputs)
        listener_tasks = [task for listener in listeners for task in listener.tasks]
        tops = [*tasks, *errors, *finally_, *after_execution, *listener_tasks]
        all_tasks = [t for top in tops for t in top.walk()]
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
            sla=sla,
            checks=checks,
            listeners=listeners,
            extra=extra,
        )

    def _self_calls(self, namespace: str | None, flow_id: str | None, tasks: list[TaskSpec]) -> None:
        """Kestra refuses a flow that starts itself as a subflow: it would recurse without end."""
        for task in tasks:
            if task.type != SUBFLOW_TYPE:
                continue
            if task.props.get("namespace") == namespace and task.props.get("flowId") == flow_id:
                self.ctx.error(task.line, f"{task.path}.flowId", "a flow cannot start itself as a subflow")

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
            if "type" in item and input_types.canonical_type(item["type"]) is None:
                self.ctx.error(
                    value_line(item, "type"), f"{path}.type", f"unknown output type '{item['type']}'"
                )
            outputs.append(plain(item))
        return outputs

    def _listeners(self, doc: dict) -> list[ListenerSpec]:
        """Deprecated in Kestra, still run (``executor/listeners.py``): each item's ``tasks`` and the
        ``conditions`` (only the types ``flowmodel.conditions`` can evaluate; others are refused)."""
        raw = doc.get("listeners")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(value_line(doc, "listeners"), "listeners", f"must be a list, got {type_name(raw)}")
            return []
        listeners = []
        for index, item in enumerate(raw):
            path = f"listeners[{index}]"
            if not isinstance(item, dict):
                self.ctx.error(item_line(raw, index), path, f"must be a mapping, got {type_name(item)}")
                continue
            for key in item:
                if key not in LISTENER_KEYS:
                    self.ctx.error(key_line(item, key), f"{path}.{key}", "unknown property")
            tasks = self.task_parser.task_list(item, "tasks", f"{path}.tasks", required=True)
            description = self.optional_string(item, "description", f"{path}.description")
            found = self._listener_conditions(item, path)
            if found is not None:
                listeners.append(ListenerSpec(tasks=tasks, conditions=found, description=description))
        return listeners

    def _listener_conditions(self, item: dict, path: str) -> list[dict] | None:
        raw = item.get("conditions")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.ctx.error(
                value_line(item, "conditions"), f"{path}.conditions", f"must be a list, got {type_name(raw)}"
            )
            return None
        ok = True
        for c_index, condition in enumerate(raw):
            c_path = f"{path}.conditions[{c_index}]"
            line = item_line(raw, c_index)
            for problem in conditions.validate([condition]):
                message = problem.split(": ", 1)[1]
                if "is not supported" in message:
                    message = message.replace("is not supported", f"is {NOT_SUPPORTED}")
                self.ctx.error(line, c_path, message)
                ok = False
        return plain(raw) if ok else None

    def _concurrency(self, doc: dict) -> None:
        """The rules live in ``concurrency_limits``; here each problem gets its line."""
        if "concurrency" not in doc:
            return
        raw = doc["concurrency"]
        for path, message in concurrency_problems(raw):
            key = path.rsplit(".", 1)[-1]
            inside = isinstance(raw, dict) and key in raw
            line = key_line(raw, key) if inside else value_line(doc, "concurrency")
            self.ctx.error(line, path, message)
