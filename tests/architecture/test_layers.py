"""The orchestrator's shape, checked: layers one way, no hidden cycles, no reach into private names.

``make lint`` runs import-linter's contracts (pyproject.toml); these tests add what it cannot express
and prove the contracts can fail.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("orchestrator", "portal", "hcloud_fake")
# Where an app is wired together when Django starts (``AppConfig.ready``): imports there are
# function-level on purpose, because models cannot be imported before the app registry is ready.
WIRING = "apps.py"


def _modules(*packages: str) -> Iterator[tuple[Path, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(), filename=str(path))


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _function_level_imports(tree: ast.Module) -> Iterator[ast.ImportFrom | ast.Import]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom | ast.Import):
                    yield inner


def _own(node: ast.ImportFrom | ast.Import) -> bool:
    """An import of Portico's own code (relative, or of one of its packages)."""
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or (node.module or "").split(".")[0] in PRODUCT
    return any(alias.name.split(".")[0] in PRODUCT for alias in node.names)


def test_it_finds_no_function_level_import_of_our_own_modules() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _modules(*PRODUCT)
        if path.name != WIRING
        for node in _function_level_imports(tree)
        if _own(node) and node.lineno not in _type_checking_lines(tree)
    ]
    assert found == []


def test_it_finds_no_import_of_a_private_name_across_modules() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name}"
        for path, tree in _modules(*PRODUCT, "tests")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and _own(node)
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert found == []


def _module_bindings(tree: ast.Module) -> set[str]:
    """Names bound to one of our modules (``from orchestrator.executor import walker``)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _own(node):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if alias.name[:1].islower() and (ROOT / Path(*target.split("."))).with_suffix(".py").exists():
                    bound.add(alias.asname or alias.name)
    return bound


def test_it_finds_no_private_attribute_read_through_another_module() -> None:
    found = []
    for path, tree in _modules(*PRODUCT, "tests"):
        bound = _module_bindings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def test_it_keeps_django_models_and_celery_out_of_the_flow_model() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
        for path, tree in _modules("orchestrator/flowmodel")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        for name in _imported_names(node)
        if name.startswith(("django.db", "celery", "django_celery_beat"))
    ]
    assert found == []


def _import_graph() -> dict[str, set[str]]:
    """Module → the orchestrator modules it imports at run time (not under TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {}
    for path, tree in _modules("orchestrator"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        skip = _type_checking_lines(tree)
        edges = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.lineno in skip:
                continue
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            if base.startswith("orchestrator"):
                edges.update(f"{base}.{alias.name}" for alias in node.names)
                edges.add(base)
    modules = set(graph)
    return {name: {t for t in targets if t in modules and t != name} for name, targets in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_it_finds_no_import_cycle_in_the_orchestrator() -> None:
    graph = _import_graph()
    assert "orchestrator.executor.walker" in graph["orchestrator.executor.waiting"]  # the scan sees edges
    assert _cycles(graph) == []


def test_it_would_report_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _imported_names(node: ast.ImportFrom | ast.Import) -> list[str]:
    return [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]


def _lint(tmp_path: Path, modules: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the project's own contracts over a throw-away tree shaped like the orchestrator."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    tree = dict(modules)
    for contract in config["contracts"]:  # every layer must exist: empty modules stand in
        for container in contract.get("containers", []):
            for layer in contract.get("layers", []):
                for name in layer.split("|"):
                    tree.setdefault(f"{container}.{name.strip()}", "")
    for name, source in tree.items():
        path = tmp_path / "src" / Path(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or source:
            path.write_text(source)
        for parent in path.parents:
            if parent == tmp_path / "src":
                break
            (parent / "__init__.py").touch()
    lines = ["[importlinter]", "root_packages =\n    orchestrator\n    portal"]
    lines.append("include_external_packages = True")
    lines.append("exclude_type_checking_imports = True")
    for index, contract in enumerate(config["contracts"]):
        lines.append(f"[importlinter:contract:{index}]")
        for key, value in contract.items():
            if key in ("source_modules", "forbidden_modules"):  # only what the throw-away tree has
                value = [v for v in value if v in ("orchestrator", "portal") or v.startswith("orchestrator.")]
                if not value:
                    value = ["orchestrator"] if key == "source_modules" else ["portal"]
            if isinstance(value, list):
                lines.append(f"{key} =\n" + "\n".join(f"    {v}" for v in value))
            else:
                lines.append(f"{key} = {value}")
    (tmp_path / "contracts.ini").write_text("\n".join(lines) + "\n")
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None
    return subprocess.run(
        [lint, "--config", str(tmp_path / "contracts.ini")],
        cwd=tmp_path / "src",
        env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=120,
    )


LAYERS = {
    "orchestrator.flowmodel.spec": "",
    "orchestrator.state.models": "from orchestrator.flowmodel import spec\n",
    "orchestrator.executor.walker": "from orchestrator.state import models\n",
    "orchestrator.plugins.core.tasks": "from orchestrator.state import models\n",
    "orchestrator.worker.task_runs": (
        "from orchestrator.executor import walker\nfrom orchestrator.plugins.core import tasks\n"
    ),
    "orchestrator.scheduler.triggers": "from orchestrator.executor import walker\n",
    "portal.views": "from orchestrator.executor import walker\n",
}


@pytest.mark.parametrize(
    "module, back_edge",
    [
        ("orchestrator.flowmodel.spec", "from orchestrator.state import models\n"),
        ("orchestrator.state.models", "from orchestrator.executor import walker\n"),
        ("orchestrator.executor.walker", "from orchestrator.worker import task_runs\n"),
        ("orchestrator.plugins.core.tasks", "from orchestrator.executor import walker\n"),
        ("orchestrator.executor.walker", "from orchestrator.plugins.core import tasks\n"),
        ("orchestrator.worker.task_runs", "from orchestrator.scheduler import triggers\n"),
        ("orchestrator.state.models", "import portal.views\n"),
        ("orchestrator.executor.walker", "from orchestrator.executor import waiting\n"),
        ("orchestrator.executor.failures", "from orchestrator.executor import retries\n"),
        ("orchestrator.worker.heartbeat", "from orchestrator.worker import task_runs\n"),
    ],
)
def test_a_back_edge_breaks_a_contract(tmp_path: Path, module: str, back_edge: str) -> None:
    good = _lint(tmp_path / "good", LAYERS)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _lint(tmp_path / "bad", {**LAYERS, module: LAYERS.get(module, "") + back_edge})
    assert bad.returncode != 0, bad.stdout
    assert "BROKEN" in bad.stdout
