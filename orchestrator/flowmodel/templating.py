"""Render ``{{ ... }}`` expressions in flow properties with one sandboxed Jinja2 environment.

Kestra writes expressions in Pebble; the common subset is the same in Jinja2, and ``pebble`` supplies
the Pebble-only pieces flows use (``??``, ``c ? x : y``, ``toJson``, ``date('yyyy-MM-dd')``, ``now()``).
The sandbox blocks attribute access to internals (``__class__``, ``__globals__``...), and a name that is
not defined is an error, never an empty string: a typo must not silently run a flow with blanks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from orchestrator.flowmodel import secret_lookup
from orchestrator.flowmodel.pebble import (
    FILTERS,
    GLOBALS,
    TESTS,
    PebbleError,
    check_call,
    check_chars,
    check_concat,
    check_format,
    check_power,
    check_repeat,
    check_time,
    finalize,
    guard_filter,
    render_budget,
    translate,
)

_CACHE_SIZE = 512


class TemplateError(Exception):
    """A template could not be compiled or rendered; the message names the cause."""


class _StrictChainableUndefined(StrictUndefined, ChainableUndefined):
    """Undefined that survives attribute chains (so ``a.b ?? 'x'`` works) but fails on any real use."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self

    __getitem__ = __getattr__  # type: ignore[assignment]


# id(dict) -> dotted path in the current render context, so errors say 'inputs' rather than 'dict object'.
_paths: ContextVar[_PathIndex | None] = ContextVar("template_paths", default=None)


def _index_paths(value: Any, path: str, out: dict[int, str], depth: int = 0) -> dict[int, str]:
    """Map nested mappings to their dotted path. Only real dicts are descended into: a lazy mapping
    (like rendered-on-read flow variables) must not be evaluated just to name it."""
    if isinstance(value, Mapping) and depth < 4:
        out.setdefault(id(value), path)
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, Mapping):
                    _index_paths(item, f"{path}.{key}" if path else str(key), out, depth + 1)
    return out


class _PathIndex:
    """The context's mapping paths, indexed only when an error needs to name one: indexing a large
    context (every task's outputs) on each render cost more than most renders themselves."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = context
        self._index: dict[int, str] | None = None

    def get(self, key: int) -> str | None:
        if self._index is None:
            self._index = _index_paths(self._context, "", {})
        return self._index.get(key)


class _Environment(ImmutableSandboxedEnvironment):
    """Sandboxed environment (templates cannot mutate lists or dicts of the context either) where
    ``a.b`` on a mapping reads key ``b`` first, as in Pebble (``outputs.t.values`` is an output, not
    ``dict.values``), and whose undefined-attribute errors name the variable path.

    Operators that can build a huge value from a short expression (``'a' * 10**8``, ``10 ** (10 ** 10)``)
    are intercepted and checked before they run (``pebble``'s limits), which also keeps Jinja from
    computing them while compiling; calls and attribute reads check the render's time.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_time()
        if operator == "*":
            check_repeat(left, right)
        elif operator == "**":
            check_power(left, right)
        elif operator == "+":
            check_concat(left, right)
        elif operator == "%" and isinstance(left, str):
            check_format(left, [right])
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        check_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, list)):
            check_chars(len(result))
        return result

    def _named(self, obj: Any, name: Any, result: Any) -> Any:
        if isinstance(result, Undefined) and isinstance(obj, Mapping) and not isinstance(obj, Undefined):
            index = _paths.get()
            owner = index.get(id(obj)) if index is not None else None
            if owner:
                return self.undefined(obj=obj, name=name, hint=f"'{owner}' has no attribute '{name}'")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()
        if isinstance(obj, Mapping) and not isinstance(obj, Undefined):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return self._named(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return self._named(obj, argument, super().getitem(obj, argument))


def _env() -> SandboxedEnvironment:
    env = _Environment(
        autoescape=False, undefined=_StrictChainableUndefined, keep_trailing_newline=True, finalize=finalize
    )
    for name in ("lipsum", "cycler", "joiner", "namespace", "dict"):
        env.globals.pop(name, None)
    env.filters.update(FILTERS)
    env.filters = {name: guard_filter(name, function) for name, function in env.filters.items()}
    env.globals.update(GLOBALS)
    env.tests.update(TESTS)
    return env


ENV = _env()


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(text: str) -> Any:
    try:
        return ENV.from_string(translate(text))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error at line {exc.lineno}: {exc.message}") from None
    except PebbleError as exc:
        raise TemplateError(str(exc)) from None
    except RecursionError:
        raise TemplateError("template nested too deeply") from None


def compile_template(text: str) -> None:
    """Check that ``text`` compiles; raise ``TemplateError`` otherwise (used by the spec loader)."""
    _compile(text)


def render_string(text: str, context: Mapping[str, Any]) -> str:
    """Render one string; any undefined name, sandbox violation or syntax error is a ``TemplateError``."""
    if not has_template(text):
        return text
    token = _paths.set(_PathIndex(context))
    try:
        with render_budget(), secret_lookup.rendering_for(_flow_namespace(context)):
            return _render_text(text, context)
    finally:
        _paths.reset(token)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render strings anywhere inside dicts and lists; other values are returned unchanged."""
    if isinstance(value, str) and not has_template(value):
        return value
    token = _paths.set(_PathIndex(context))
    try:
        with render_budget(), secret_lookup.rendering_for(_flow_namespace(context)):
            return _render_value(value, context)
    finally:
        _paths.reset(token)


def _flow_namespace(context: Mapping[str, Any]) -> str | None:
    """The namespace ``secret()`` reads for: the engine's ``flow.namespace``, taken from the context
    given here in Python, so nothing a template assigns can change it."""
    flow = context.get("flow") if isinstance(context, Mapping) else None
    namespace = flow.get("namespace") if isinstance(flow, Mapping) else None
    return namespace if isinstance(namespace, str) else None


def has_template(text: Any) -> bool:
    """True when ``text`` is a string holding an expression, a statement or a comment."""
    return isinstance(text, str) and ("{{" in text or "{%" in text or "{#" in text)


def template_strings(value: Any, *, keys: bool = True) -> Iterator[str]:
    """Every string holding a template inside ``value`` (dicts, lists, tuples), map keys too unless
    ``keys=False``: ``render`` renders keys as well."""
    if isinstance(value, str):
        if has_template(value):
            yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if keys:
                yield from template_strings(key)
            yield from template_strings(item, keys=keys)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from template_strings(item, keys=keys)


def _render_key(key: Any, context: Mapping[str, Any]) -> Any:
    return str(_render_text(key, context)) if has_template(key) else key


def _render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_text(value, context) if has_template(value) else value
    if isinstance(value, dict):
        # Kestra renders map keys too (``"{{ inputs.key }}": value`` in Labels, state.Set, OutputValues).
        return {_render_key(key, context): _render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, context) for item in value]
    return value


def _stream(template: Any, context: Mapping[str, Any]) -> str:
    """The template's output, refused as soon as it passes the output limit or the render's time."""
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        check_chars(size, "the output")
        check_time()
        chunks.append(chunk)
    return "".join(chunks)


_UNDEFINED_NAME = re.compile(r"^'([A-Za-z_]\w*)' is undefined$")


def _undefined_message(text: str, message: str) -> str:
    """Pebble's wording for a variable that does not exist, which flows and Kestra's tests match on:
    "Unable to find `inputs` used in the expression `{{inputs.invalid}}` at line 1"."""
    match = _UNDEFINED_NAME.match(message)
    if match:
        name = match.group(1)
        inner = r"(?:(?!\}\}).)*"
        pattern = r"\{\{" + inner + r"?(?<![\w.])" + re.escape(name) + r"\b" + inner + r"\}\}"
        found = re.search(pattern, text, re.S)
        if found:
            line = text.count("\n", 0, found.start()) + 1
            return f"Unable to find `{name}` used in the expression `{found.group(0)}` at line {line}"
    return f"undefined variable: {message}"


def _render_text(text: str, context: Mapping[str, Any]) -> str:
    template = _compile(text)
    try:
        return _stream(template, context)
    except SecurityError as exc:
        raise TemplateError(f"unsafe template: {exc}") from None
    except UndefinedError as exc:
        raise TemplateError(_undefined_message(text, exc.message or "")) from None
    except TemplateError:
        raise
    except PebbleError as exc:
        raise TemplateError(str(exc)) from None
    except JinjaTemplateError as exc:
        raise TemplateError(str(exc)) from None
    except AttributeError as exc:
        if str(exc).startswith("_"):
            raise TemplateError(f"unsafe template: access to attribute '{exc}' is not allowed") from None
        raise TemplateError(f"AttributeError: {exc}") from None
    except RecursionError:
        raise TemplateError("template recursion too deep") from None
    except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError, IndexError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


FALSY = {"false", "0", "-0", ""}




def is_truthy(value: Any) -> bool:
    """Kestra's notion of a true rendered condition."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in FALSY
