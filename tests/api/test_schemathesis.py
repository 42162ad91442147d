"""The served OpenAPI schema, fuzzed by schemathesis against the real app (in-process WSGI, real DB):
no 500, every status and body as the schema documents it. Bounded and deterministic (derandomized)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from portal.api import tokens

# A schema-valid request may still be refused by the rules (422: a flow's inputs, an unknown cost
# center), be out of the caller's sight (404) or reach a state that forbids it (409); never 400.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 401, 403, 404, 409, 422]}}}
)


@pytest.fixture
def api_schema(db: Any, alice: Any, bob: Any, catalog: Any) -> Iterator[Any]:
    """The schema as served, over WSGI. Like Django's test client, requests must not close the test's
    database connection (it holds the test transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=CONFIG)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(bob: Any) -> str:
    return tokens.do_create_token(bob, name="fuzz", namespaces=["*"], verbs=list(tokens.VERBS)).plain


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case: Any, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
