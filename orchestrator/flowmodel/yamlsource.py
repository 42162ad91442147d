"""YAML loading that remembers where everything came from.

Flows are read with PyYAML's safe loader, but instead of plain dicts and lists we build ``LineMap`` and
``LineSeq``: ordinary containers that also know the line of every key, value and item, so validation
errors can point at the line an author must edit. Duplicate keys are reported instead of silently
keeping the last one (Kestra rejects them too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

ErrorSink = Callable[[int, str, str], None]  # (line, field path, message)


class _Loader(yaml.SafeLoader):
    """SafeLoader resolving scalars the way Kestra's Jackson YAML does.

    Only true/false are booleans (``on``, ``yes`` stay strings) and dates stay strings, so a DATE input
    default is the text the author wrote.
    """


_SKIPPED_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _SKIPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class LineMap(dict):
    """A mapping that remembers where each key and value sits in the source (1-based lines)."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]


class LineSeq(list):
    """A list that remembers the line of each item."""

    line: int
    item_lines: list[int]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _convert(loader: _Loader, node: yaml.Node, path: str, error: ErrorSink, depth: int = 0) -> Any:
    if depth > 100:
        error(_line(node), path, "nested too deeply")
        return None
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result = LineMap()
        result.line, result.key_lines, result.value_lines = _line(node), {}, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                error(_line(key_node), path, "mapping keys must be plain strings")
                continue
            key = loader.construct_object(key_node)
            key = "null" if key is None else key
            if key in result:
                message = f"duplicate key '{key}' (first defined at line {result.key_lines[key]})"
                error(_line(key_node), join(path, key), message)
                continue
            result.key_lines[key] = _line(key_node)
            result.value_lines[key] = _line(value_node)
            result[key] = _convert(loader, value_node, join(path, key), error, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        seq = LineSeq()
        seq.line, seq.item_lines = _line(node), []
        for index, item in enumerate(node.value):
            seq.item_lines.append(_line(item))
            seq.append(_convert(loader, item, f"{path}[{index}]", error, depth + 1))
        return seq
    return loader.construct_object(node)


def load(text: str, error: ErrorSink) -> Any:
    """Parse one YAML document into LineMap/LineSeq/scalars; problems go to ``error``, not exceptions."""
    try:
        loader = _Loader(text)  # the reader refuses control characters here, before any parsing
    except yaml.YAMLError as exc:
        error(1, "", f"invalid YAML: {exc}")
        return None
    try:
        node = loader.get_single_node()
        return None if node is None else _convert(loader, node, "", error)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        error(mark.line + 1 if mark else 1, "", f"invalid YAML: {exc.problem or exc}")
    except yaml.YAMLError as exc:
        error(1, "", f"invalid YAML: {exc}")
    finally:
        loader.dispose()
    return None


def plain(value: Any) -> Any:
    """Strip line bookkeeping so parsed structures are ordinary dicts and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def key_line(mapping: Any, key: Any, default: int = 1) -> int:
    return getattr(mapping, "key_lines", {}).get(key, getattr(mapping, "line", default))


def value_line(mapping: Any, key: Any, default: int = 1) -> int:
    return getattr(mapping, "value_lines", {}).get(key, getattr(mapping, "line", default))


def item_line(seq: Any, index: int, default: int = 1) -> int:
    lines = getattr(seq, "item_lines", [])
    return lines[index] if index < len(lines) else getattr(seq, "line", default)


def type_name(value: Any) -> str:
    """How an error message names what the author wrote instead (``got a list``)."""
    for kind, name in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"), (str, "a string")):
        if isinstance(value, kind):
            return name
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return "empty" if value is None else type(value).__name__
