"""The schema the API serves is the one checked in (``docs/openapi.json``), so a change to the API
shows in review. Regenerate with ``manage.py api_schema --output docs/openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.test import Client


def test_the_served_schema_is_the_checked_in_one() -> None:
    served = Client().get("/api/v1/openapi.json")
    assert served.status_code == 200
    checked_in = json.loads((Path(settings.BASE_DIR) / "docs" / "openapi.json").read_text())
    assert served.json() == checked_in, "run: manage.py api_schema --output docs/openapi.json"
    assert served.json()["openapi"].startswith("3.")


def test_every_operation_documents_the_one_error_body() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404"):
                body = operation["responses"][status]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
