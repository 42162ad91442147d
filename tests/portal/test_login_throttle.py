"""Login throttling through the real allauth login form, counted in Redis as every gunicorn worker sees it.

A username+IP pair is locked after PORTICO_LOGIN_FAILURE_LIMIT failures (django-axes); other users behind
the same address and the same user elsewhere are not; a success resets the pair; allauth caps the
failures of one address across accounts.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User

pytestmark = pytest.mark.django_db
WRONG = "not-the-password"


@pytest.fixture
def shared_cache(settings: Any, redis_url: str) -> Iterator[redis.Redis]:
    """Django's cache on the test run's Redis, under a prefix of its own; yields a client to look inside."""
    location = redis_url.replace("redis+socket://", "unix://", 1)
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    original = django_settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    AxesProxyHandler.get_implementation(force=True)  # axes keeps the cache it was built with
    client = redis.Redis.from_url(location)
    client.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
        settings.CACHES = original
        AxesProxyHandler.get_implementation(force=True)


def _ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def _login(login: str, password: str, ip: str) -> tuple[int, bool]:
    """POST the login form as a fresh browser from ``ip``: (status, logged in)."""
    browser = Client()
    response = browser.post(reverse("account_login"), {"login": login, "password": password}, REMOTE_ADDR=ip)
    return response.status_code, "_auth_user_id" in browser.session


def _fail(login: str, ip: str, times: int) -> list[int]:
    return [_login(login, WRONG, ip)[0] for _ in range(times)]


def test_failures_lock_that_account_from_that_address(shared_cache: redis.Redis, alice: User) -> None:
    ip = _ip()
    limit = django_settings.PORTICO_LOGIN_FAILURE_LIMIT
    statuses = _fail("alice", ip, limit)
    assert statuses[:-1] == [200] * (limit - 1)  # the form says "wrong password"
    assert statuses[-1] == 429  # the failure that reaches the limit locks
    assert _login("alice", "pw", ip) == (429, False)  # even the right password, for the lockout


def test_another_user_behind_the_same_address_still_logs_in(
    shared_cache: redis.Redis, alice: User, bob: User
) -> None:
    ip = _ip()
    _fail("alice", ip, django_settings.PORTICO_LOGIN_FAILURE_LIMIT)
    assert _login("alice", "pw", ip) == (429, False)
    assert _login("bob", "pw", ip) == (302, True)


def test_the_same_user_elsewhere_still_logs_in(shared_cache: redis.Redis, alice: User) -> None:
    ip = _ip()
    _fail("alice", ip, django_settings.PORTICO_LOGIN_FAILURE_LIMIT)
    assert _login("alice", "pw", _ip()) == (302, True)


def test_a_success_resets_the_count(shared_cache: redis.Redis, alice: User) -> None:
    ip = _ip()
    below = django_settings.PORTICO_LOGIN_FAILURE_LIMIT - 1
    assert _fail("alice", ip, below) == [200] * below
    assert _login("alice", "pw", ip) == (302, True)
    assert _fail("alice", ip, below) == [200] * below
    assert _login("alice", "pw", ip) == (302, True)


def test_email_and_case_count_as_the_same_account(shared_cache: redis.Redis, alice: User) -> None:
    ip = _ip()
    limit = django_settings.PORTICO_LOGIN_FAILURE_LIMIT
    _fail("alice", ip, limit - 2)
    _fail("ALICE@Example.com", ip, 1)
    _fail("Alice", ip, 1)
    assert _login("alice", "pw", ip) == (429, False)


def test_the_counts_live_in_redis(shared_cache: redis.Redis, alice: User) -> None:
    """What one worker counted, another finds: the failure is a key in the shared Redis."""
    _fail("alice", _ip(), 1)
    assert list(shared_cache.scan_iter(f"{shared_cache.prefix}*"))  # type: ignore[attr-defined]


def test_an_administrator_lifts_a_lock(shared_cache: redis.Redis, alice: User) -> None:
    """README: `manage.py axes_reset_ip_username <ip> <username>` before the cool-off ends."""
    ip = _ip()
    _fail("Alice", ip, django_settings.PORTICO_LOGIN_FAILURE_LIMIT)
    assert _login("alice", "pw", ip) == (429, False)
    call_command("axes_reset_ip_username", ip, "alice", stdout=io.StringIO())
    assert _login("alice", "pw", ip) == (302, True)


def test_the_lock_ends_after_the_cool_off(settings: Any, shared_cache: redis.Redis, alice: User) -> None:
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    ip = _ip()
    _fail("alice", ip, django_settings.PORTICO_LOGIN_FAILURE_LIMIT)
    assert _login("alice", "pw", ip) == (429, False)
    time.sleep(2.5)
    assert _login("alice", "pw", ip) == (302, True)


def test_one_address_guessing_many_accounts_is_capped(
    settings: Any, shared_cache: redis.Redis, bob: User
) -> None:
    """allauth's per-IP ceiling on failures (PORTICO_LOGIN_IP_FAILURE_LIMIT), here 3 for brevity."""
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/900s/ip"}
    ip = _ip()
    for name in ("carol", "dave", "erin"):
        _fail(name, ip, 1)
    status, logged_in = _login("bob", "pw", ip)
    assert not logged_in and status != 302
    assert _login("bob", "pw", _ip()) == (302, True)
