"""The webhook's rate limit: per client IP and per key, counted in the shared Redis, answered with 429 and
``Retry-After`` before the key is even looked at."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_cache(settings: Any, redis_url: str) -> Iterator[str]:
    """Django's cache on the test run's Redis under a prefix of its own; small limits to reach quickly."""
    location = redis_url.replace("redis+socket://", "unix://", 1)
    prefix = f"test-webhook-{uuid.uuid4().hex}"
    original = django_settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    settings.PORTICO_WEBHOOK_RATE_PER_IP = 5
    settings.PORTICO_WEBHOOK_RATE_PER_KEY = 3
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(location)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
        settings.CACHES = original


def _ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def _call(key: str, ip: str, flow: str = "nightly") -> Any:
    return Client().post(
        f"/api/v1/executions/webhook/portico.tests/{flow}/{key}",
        data="{}",
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def test_one_key_from_many_addresses_is_limited(shared_cache: str) -> None:
    key = uuid.uuid4().hex
    statuses = [_call(key, _ip()).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]  # no such flow: 404, until the key's budget is spent


def test_one_address_guessing_keys_is_limited(shared_cache: str) -> None:
    ip = _ip()
    statuses = [_call(uuid.uuid4().hex, ip).status_code for _ in range(6)]
    assert statuses == [404] * 5 + [429]


def test_the_429_says_when_to_come_back(shared_cache: str) -> None:
    ip = _ip()
    for _ in range(5):
        _call(uuid.uuid4().hex, ip)
    response = _call(uuid.uuid4().hex, ip)
    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Requests"}
    assert 1 <= int(response["Retry-After"]) <= 60


def test_other_callers_are_not_held_back(shared_cache: str) -> None:
    ip, key = _ip(), uuid.uuid4().hex
    for _ in range(4):
        _call(key, ip)
    assert _call(key, ip).status_code == 429
    assert _call(uuid.uuid4().hex, _ip()).status_code == 404  # another key from another address


def test_the_key_is_not_stored_in_the_clear(shared_cache: str, redis_url: str) -> None:
    key = f"secret-{uuid.uuid4().hex}"
    _call(key, _ip())
    client = redis.Redis.from_url(redis_url.replace("redis+socket://", "unix://", 1))
    try:
        names = [name.decode() for name in client.scan_iter(f"{shared_cache}*")]
    finally:
        client.close()
    assert names and not any(key in name for name in names)


def test_zero_switches_the_limit_off(settings: Any, shared_cache: str) -> None:
    settings.PORTICO_WEBHOOK_RATE_PER_IP = 0
    settings.PORTICO_WEBHOOK_RATE_PER_KEY = 0
    ip, key = _ip(), uuid.uuid4().hex
    assert {_call(key, ip).status_code for _ in range(8)} == {404}
