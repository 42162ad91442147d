"""Regenerate ``hcloud_fake/hcloud_schema.json`` from the official Hetzner Cloud schema.

The full schema (1.3 MB, in ../shared, which a fresh clone lacks) is cut down to the operations the
fake serves (its route table) and the component schemas they reference, with prose removed: paths,
parameters, field names, types, required, enums, formats and patterns stay. Output is deterministic.

    .venv/bin/python tests/fakes/trim_hcloud_schema.py [SOURCE] [TARGET]
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO.parent / "shared" / "hcloud" / "hcloud-openapi.json"
TARGET = REPO / "hcloud_fake" / "hcloud_schema.json"

PROSE = {"description", "summary", "example", "examples", "title", "externalDocs"}
NAME_MAPS = {"properties", "patternProperties"}  # keys of these are field names, never prose


def strip(node: Any, names: bool = False) -> Any:
    """Drop prose keywords and vendor extensions, keeping fields named "description"."""
    if isinstance(node, dict):
        return {
            key: strip(value, key in NAME_MAPS and not names)
            for key, value in node.items()
            if names or (key not in PROSE and not key.startswith("x-"))
        }
    if isinstance(node, list):
        return [strip(item) for item in node]
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def trim_operation(operation: dict[str, Any], path_parameters: list[dict[str, Any]]) -> dict[str, Any]:
    keep: dict[str, Any] = {"operationId": operation["operationId"]}
    parameters = path_parameters + operation.get("parameters", [])
    if parameters:
        keep["parameters"] = [
            strip(
                {k: v for k, v in p.items() if k in ("name", "in", "required", "schema", "style", "explode")}
            )
            for p in parameters
        ]
    if "requestBody" in operation:
        keep["requestBody"] = strip(operation["requestBody"])
    keep["responses"] = {status: strip(response) for status, response in operation["responses"].items()}
    return keep


def trim(full: dict[str, Any], operations: list[tuple[str, str]]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, template in operations:
        item = full["paths"][template]
        paths.setdefault(template, {})[method.lower()] = trim_operation(
            item[method.lower()], item.get("parameters", [])
        )
    schemas = full["components"]["schemas"]
    wanted, todo = set(), sorted(set(refs(paths)))
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(refs(schemas[name]))
    return {
        "openapi": full["openapi"],
        "info": {"title": full["info"]["title"], "version": full["info"]["version"]},
        "security": full.get("security", []),
        "paths": paths,
        "components": {
            "securitySchemes": full["components"]["securitySchemes"],
            "schemas": {name: strip(schemas[name]) for name in sorted(wanted)},
        },
    }


def render(source: Path) -> str:
    from hcloud_fake.api import ROUTES

    raw = source.read_bytes()
    trimmed = trim(json.loads(raw), [(route.method, route.template) for route in ROUTES])
    trimmed["info"]["x-source-sha256"] = hashlib.sha256(raw).hexdigest()
    return json.dumps(trimmed, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    target = Path(argv[2]) if len(argv) > 2 else TARGET
    target.write_text(render(source))
    print(f"wrote {target} ({target.stat().st_size} bytes) from {source}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv))
