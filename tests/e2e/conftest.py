"""Playwright drives Debian's chromium (Playwright's own browser builds cannot be fetched)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch):
    """Chromium for one test; Playwright is stopped again at teardown.

    Playwright's sync API keeps an event loop in this thread while it runs, and Django then refuses ORM
    calls from the test body (SynchronousOnlyOperation) although nothing here is actually async: allow them
    for this test only, and stop Playwright at teardown so later tests run without that loop.
    """
    if not CHROMIUM.exists():  # a failure, not a skip: a suite without its browser tests is not green
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # ORM calls made while Playwright runs get connections of their own (Django keys connections by
        # context, and Playwright switches it); close them here, or PostgreSQL refuses to drop the test DB.
        connections.close_all()


@pytest.fixture
def new_page(browser):
    """``new_page()``: a page in a fresh browser context, i.e. its own cookies: one per person."""

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        return context.new_page()

    return make
