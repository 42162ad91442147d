"""The portal's apps import each other one way (ARCHITECTURE.md), found by a static scan of ``portal/``
that counts module-level and function-level imports alike, so a cycle cannot hide inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "portal"

# The request page embeds the execution panel (requests.selectors -> executions.selectors) while the
# execution page needs the request that started it: the one app cycle left, in reads, not services.
KNOWN_CYCLE_EDGES = {("requests", "executions")}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PORTAL.rglob("*.py")):
        if "migrations" not in path.parts:
            parts = path.relative_to(PORTAL.parent).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(module: str, path: Path) -> Iterator[tuple[str, str | None, bool, int]]:
    """(imported module, imported name or None, inside a function?, line) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    in_function = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, id(node) in in_function, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                yield target, alias.name, id(node) in in_function, node.lineno


def _app(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "portal" and len(parts) > 2 else None


def _cross_app_imports() -> Iterator[tuple[str, str, bool, str]]:
    """(importing app, imported app, inside a function?, where) for each import of one app by another."""
    modules = dict(_modules())
    for module, path in modules.items():
        for target, name, in_function, line in _imports(module, path):
            full = f"{target}.{name}" if name and f"{target}.{name}" in modules else target
            source, imported = _app(module), _app(full)
            if source and imported and source != imported:
                yield source, imported, in_function, f"{module}:{line}"


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    found = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for following in sorted(graph.get(node, ())):
            if following == start:
                found.append([*path, start])
            elif following not in path and following > start:
                walk(start, following, [*path, following])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def test_the_apps_import_each_other_one_way() -> None:
    edges = {(source, imported) for source, imported, _, _ in _cross_app_imports()}

    assert _cycles(edges - KNOWN_CYCLE_EDGES) == []
    assert ("approvals", "requests") in edges and ("approvals", "resources") in edges  # approvals on top
    assert not any(source in ("requests", "resources") and target == "approvals" for source, target in edges)
    assert not any(source == "requests" and target == "notifications" for source, target in edges)


def test_no_app_imports_another_inside_a_function() -> None:
    """Such an import would only hide a cycle from the module graph (an ``AppConfig.ready`` importing
    its own app's receivers is not one)."""
    hidden = [f"{where} imports {imported}" for _, imported, inside, where in _cross_app_imports() if inside]

    assert hidden == []


def test_no_module_imports_a_private_name_from_another() -> None:
    private = [
        f"{module}:{line} imports {target}.{name}"
        for module, path in _modules()
        for target, name, _, line in _imports(module, path)
        if name and name.startswith("_") and not name.startswith("__")
    ]

    assert private == []
