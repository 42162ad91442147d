"""The served OpenAPI schema as the text checked in at ``docs/openapi.json`` (sorted keys, indented)."""

from __future__ import annotations

import json

from .api import api


def schema_text() -> str:
    """Through JSON once first, as the served schema is: its status codes become strings."""
    served = json.loads(json.dumps(api.get_openapi_schema(), cls=api.renderer.encoder_class))
    return json.dumps(served, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
