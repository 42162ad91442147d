"""The REST API under ``/api/v1/``: one NinjaAPI, its routers, its auth, its one error body.

The OpenAPI schema is served at ``/api/v1/openapi.json`` and checked in as ``docs/openapi.json``
(``manage.py api_schema`` writes it; a test keeps the two equal).
"""

from __future__ import annotations

from ninja import NinjaAPI

from . import errors
from .auth import AUTH
from .routes import approvals, audit, executions, flows, requests, resources, tokens

api = NinjaAPI(
    title="Portico API",
    version="1",
    description=(
        "Self-service requests, approvals, executions, resources and audit. Authenticate with a "
        "personal API token (`Authorization: Bearer pt_…`) or the browser session (with CSRF). "
        'Every error has the body `{"error": {"code", "message", "fields"}}`.'
    ),
    auth=AUTH,
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
errors.install(api)
for module in (flows, requests, approvals, executions, resources, audit, tokens):
    api.add_router("", module.router)
