"""``manage.py plugins list``: every task type Portico can run, where it comes from, and its schema.

The schema printed is the one the loader validates flows with (the type's pydantic model), so what this
command shows is exactly what a flow may set.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestrator import plugins
from orchestrator.flowmodel import task_api


class Command(BaseCommand):
    help = "List task types: their Kestra names, the package they come from and their JSON schema."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="print every registered task and trigger type")
        listing.add_argument("--json", action="store_true", help="one JSON document with the schemas")
        listing.add_argument("--source", help="only the types of this package (e.g. portico)")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = [
            {
                "type": task_type.name,
                "kind": "flowable" if task_type.flowable else task_type.kind,
                "source": plugins.SOURCES.get(task_type.name, plugins.BUILT_IN),
                "aliases": list(task_type.aliases),
                "schema": task_api.json_schema(task_type.name),
            }
            for task_type in task_api.all_types()
        ]
        if options["source"]:
            rows = [row for row in rows if row["source"] == options["source"]]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2, default=str))
            return
        width = max((len(row["type"]) for row in rows), default=10)
        for row in rows:
            properties = ", ".join(sorted((row["schema"] or {}).get("properties", {})))
            self.stdout.write(f"{row['type']:<{width}}  {row['kind']:<8}  {row['source']:<24}  {properties}")
        self.stdout.write(f"{len(rows)} type(s)")
