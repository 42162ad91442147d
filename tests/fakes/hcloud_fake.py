"""Test-side entry to the Hetzner Cloud fake: re-exports it and provides the pytest fixtures.

The implementation is the top-level ``hcloud_fake`` package (a dev server of its own, which
``python -m hcloud_fake`` runs for ``make up``); the schema check is ``tests/fakes/hcloud_schema.py``.
Any test module can use the fixtures by importing them (``from tests.fakes.hcloud_fake import
hcloud_fake, hcloud_client``) or through ``tests/fakes/conftest.py`` for tests in this folder.
Every exchange a ``hcloud_fake`` fixture recorded is validated against the schema at teardown.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import hcloud
import pytest

from hcloud_fake import DEFAULT_TOKEN, Exchange, Fault, HcloudFake
from tests.fakes.hcloud_schema import hcloud_schema

__all__ = ["DEFAULT_TOKEN", "Exchange", "Fault", "HcloudFake", "client_for", "hcloud_client", "hcloud_fake"]


def client_for(fake: HcloudFake, *, token: str | None = None, **kwargs: Any) -> hcloud.Client:
    """An SDK client aimed at the fake (both endpoints, so nothing can leak to Hetzner), polling fast."""
    kwargs.setdefault("poll_interval", 0.01)
    kwargs.setdefault("timeout", 5)
    if "api_endpoint_hetzner" in inspect.signature(hcloud.Client).parameters:  # newer hcloud releases only
        kwargs.setdefault("api_endpoint_hetzner", fake.endpoint)
    return hcloud.Client(token=token or fake.token, api_endpoint=fake.endpoint, **kwargs)


@pytest.fixture
def hcloud_fake() -> Iterator[HcloudFake]:
    """A running fake on a free loopback port; its traffic must satisfy the official schema."""
    with HcloudFake() as fake:
        yield fake
        hcloud_schema().assert_valid(fake.exchanges)


@pytest.fixture
def hcloud_client(hcloud_fake: HcloudFake) -> hcloud.Client:
    return client_for(hcloud_fake)
