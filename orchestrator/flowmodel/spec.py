"""Parse and validate flows written in Kestra's YAML format: the flow model's public face.

Every problem is reported as ``file:line: path: message`` so that an author can jump straight to it;
the loader collects all problems of a file instead of stopping at the first. Task property schemas come
from the registry (one pydantic model per type), so the loader knows the *shape* of a flow, not the
details of each task type.

The parsers live in ``parse_*`` modules (flow-level keys, tasks, triggers, types, values) and in
``input_definitions``; the data model in ``parsed_flow`` and the errors in ``flow_errors``, below the
parsers that build them. Import all of these names from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator.flowmodel.flow_errors import FlowError, FlowValidationError, ParseContext
from orchestrator.flowmodel.input_definitions import InputParser, InputSpec
from orchestrator.flowmodel.input_types import canonical_type
from orchestrator.flowmodel.parse_flow_keys import FlowParser
from orchestrator.flowmodel.parsed_flow import CheckSpec, Flow, ListenerSpec, SlaSpec, TaskSpec, TriggerSpec
from orchestrator.flowmodel.yamlsource import load

__all__ = [
    "CheckSpec",
    "Flow",
    "FlowError",
    "FlowValidationError",
    "InputSpec",
    "ListenerSpec",
    "SlaSpec",
    "TaskSpec",
    "TriggerSpec",
    "canonical_input_type",
    "flag_set",
    "load_flow",
    "parse_flow",
    "parse_inputs",
    "validate_files",
]


def flag_set(value: Any) -> bool:
    """A boolean property as a flow writes it (``disabled``, ``allowWarning``, ``wait``, ...): YAML
    ``true`` or the string ``"true"`` in any case. Anything else, templates included, is false."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def canonical_input_type(name: Any) -> str | None:
    """An input (or output) type as the loader knows it (BOOLEAN -> BOOL, ENUM -> SELECT), or None."""
    return canonical_type(name)


def parse_flow(text: str, file: str = "<string>") -> Flow:
    """Parse and validate one flow; raise ``FlowValidationError`` listing every problem found."""

    ctx = ParseContext(file)
    doc = load(text, ctx.error)
    flow = None
    if not ctx.errors:
        flow = FlowParser(ctx).flow(doc, text)
    elif isinstance(doc, dict):
        FlowParser(ctx).flow(doc, text)  # duplicate keys: report the rest too
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
    ctx = ParseContext(file)
    specs = InputParser(ctx).inputs(items, {}, path, path)
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
