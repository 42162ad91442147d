"""``manage.py api_schema [--output docs/openapi.json]``: the OpenAPI schema the API serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from portal.api.schema_text import schema_text


class Command(BaseCommand):
    help = "Print (or write) the REST API's OpenAPI 3 schema, as served at /api/v1/openapi.json."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, output: str | None = None, **options: Any) -> None:
        text = schema_text()
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
