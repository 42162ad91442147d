"""Check recorded traffic against the trimmed official schema, in both directions.

Requests prove Portico (through the SDK) sends what Hetzner accepts; responses prove the fake answers
what Hetzner would, so tests passing against the fake mean something. Needs the dev extra
``openapi-schema-validator`` (OpenAPI 3.0 ``nullable`` and formats on top of ``jsonschema``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .server import Exchange

SCHEMA_PATH = Path(__file__).with_name("hcloud_schema.json")
_URI = "urn:portico:hcloud-schema"

# Places where the schema's types are narrower than its own prose and the real clients; each is
# applied to the loaded document (never to the generated file) so the deviation stays visible here.
ERRATA: list[tuple[str, dict[str, Any], str]] = [
    (
        "/components/schemas/create_server_request/properties/ssh_keys/items",
        {"oneOf": [{"type": "string"}, {"type": "integer", "format": "int64"}]},
        "documented as 'SSH key IDs (integer) or names (string)'; hcloud-python sends IDs",
    ),
]


def _all_of_or_null(validator: Any, all_of: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """``{"allOf": [{"$ref": ...}], "nullable": true}`` means "that object, or null" in Hetzner's schema.

    OAS 3.0.3 read literally ties ``nullable`` to a ``type`` in the same object, which would reject
    the ``null`` the API really sends (``action.error``, ``image.created_from``, ``server.iso``).
    """
    if instance is None and schema.get("nullable") is True:
        return
    yield from OAS30Validator.VALIDATORS["allOf"](validator, all_of, instance, schema)


_Validator = extend(OAS30Validator, {"allOf": _all_of_or_null})


def _apply_errata(document: dict[str, Any]) -> dict[str, Any]:
    patched = json.loads(json.dumps(document))
    for pointer, replacement, _reason in ERRATA:
        *parents, leaf = pointer.strip("/").split("/")
        node = patched
        for part in parents:
            node = node[part]
        node[leaf] = replacement
    return patched


class SchemaViolation(AssertionError):
    """Recorded traffic the official schema does not allow; the message lists every problem."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    def match(self, method: str, path: str) -> bool:
        pattern = "^" + re.sub(r"\{\w+\}", r"[^/]+", self.template) + "$"
        return method.upper() == self.method and re.match(pattern, path) is not None

    def path_values(self, path: str) -> dict[str, str]:
        pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$"
        match = re.match(pattern, path)
        return match.groupdict() if match else {}


def _absolute(node: Any) -> Any:
    """Point local ``#/...`` references at the registered document so sub-schemas validate standalone."""
    if isinstance(node, dict):
        return {k: (_URI + v if k == "$ref" and v.startswith("#") else _absolute(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(item) for item in node]
    return node


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """Query strings are text; give the validator the typed value the API would parse."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


class HcloudSchema:
    def __init__(self, document: dict[str, Any]):
        document = _apply_errata(document)
        self.document = document
        self._registry = Registry().with_resource(
            _URI, Resource.from_contents(document, default_specification=DRAFT4)
        )
        self.operations = [
            Operation(method.upper(), template, spec)
            for template, item in document["paths"].items()
            for method, spec in item.items()
        ]

    @classmethod
    def load(cls, path: Path = SCHEMA_PATH) -> HcloudSchema:
        return cls(json.loads(path.read_text()))

    def find(self, method: str, path: str) -> Operation | None:
        return next((op for op in self.operations if op.match(method, path)), None)

    def check(self, schema: dict[str, Any], instance: Any, where: str) -> list[str]:
        validator = _Validator(
            _absolute(schema), registry=self._registry, format_checker=oas30_format_checker
        )
        return [
            f"{where}{'/' + '/'.join(map(str, e.absolute_path)) if e.absolute_path else ''}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        ]

    def request_errors(self, exchange: Exchange) -> list[str]:
        op = self.find(exchange.method, exchange.path)
        if op is None:
            return [f"{exchange.method} {exchange.path} is not an operation of the schema"]
        errors: list[str] = []
        if not exchange.request_headers.get("Authorization", "").startswith("Bearer "):
            errors.append("request: no bearer token (security scheme APIToken)")
        declared = {(p["in"], p["name"]): p for p in op.spec.get("parameters", [])}
        for name, value in op.path_values(exchange.path).items():
            errors += self.check(
                declared[("path", name)]["schema"],
                _coerce(value, {"type": "integer"}),
                f"request path {name}",
            )
        for name, values in exchange.query.items():
            param = declared.get(("query", name))
            if param is None:
                errors.append(f"request query: {name!r} is not a parameter of {op.spec['operationId']}")
                continue
            schema = param["schema"]
            if schema.get("type") == "array":
                value: Any = [_coerce(v, schema.get("items", {})) for v in values]
            elif len(values) > 1:
                errors.append(f"request query {name}: sent {len(values)} times but is not an array")
                continue
            else:
                value = _coerce(values[0], schema)
            errors += self.check(schema, value, f"request query {name}")
        for (where, name), param in declared.items():
            if where == "query" and param.get("required") and name not in exchange.query:
                errors.append(f"request query: required {name!r} missing")
        body_spec = op.spec.get("requestBody")
        if body_spec is None:
            if exchange.request_body is not None:
                errors.append("request: a body was sent to an operation that takes none")
        elif exchange.request_body is None:
            if body_spec.get("required"):
                errors.append("request: required JSON body missing")
        else:
            if not exchange.request_headers.get("Content-Type", "").startswith("application/json"):
                errors.append("request: body sent without Content-Type application/json")
            errors += self.check(
                body_spec["content"]["application/json"]["schema"], exchange.request_body, "request body"
            )
        return errors

    def response_errors(self, exchange: Exchange) -> list[str]:
        if exchange.status is None:
            return []  # dropped by a timeout fault: nothing was answered
        op = self.find(exchange.method, exchange.path)
        if op is None:
            return []  # reported by request_errors
        responses = op.spec["responses"]
        status = str(exchange.status)
        key = next((k for k in (status, f"{status[0]}xx", "default") if k in responses), None)
        if key is None:
            return [f"response: status {status} is not documented for {op.spec['operationId']}"]
        content = responses[key].get("content")
        if not content:
            return [] if exchange.response_body is None else [f"response: {status} must not have a body"]
        if not exchange.response_headers.get("Content-Type", "").startswith("application/json"):
            return [f"response: {status} without Content-Type application/json"]
        return self.check(content["application/json"]["schema"], exchange.response_body, "response body")

    def errors(self, exchange: Exchange) -> list[str]:
        problems = self.request_errors(exchange) + self.response_errors(exchange)
        label = f"{exchange.method} /v1{exchange.path} -> {exchange.status}"
        return [f"{label}: {p}" for p in problems]

    def assert_valid(self, exchanges: Iterable[Exchange]) -> int:
        """Raise ``SchemaViolation`` listing every problem; returns how many exchanges were checked."""
        checked, problems = 0, []
        for exchange in exchanges:
            checked += 1
            problems += self.errors(exchange)
        if problems:
            raise SchemaViolation("\n".join(problems))
        return checked


@cache
def hcloud_schema() -> HcloudSchema:
    """The packaged trimmed schema, parsed once per process."""
    return HcloudSchema.load()
