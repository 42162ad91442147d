"""Accessibility in a real browser: axe-core on every page kind, light and dark, and keyboard-only stories.

axe (vendored, offline: ``tests/e2e/axe.py``) must find no serious or critical violation on any page the
browser tests visit — sign in, catalog, request form (fresh and after an invalid submit), request page
(pending and finished), my requests, my resources, a resource, the approval queue, executions, an
execution, the audit log, logout and the 404 page — in the light and the dark colour scheme (the portal
follows ``prefers-color-scheme``; Playwright's ``color_scheme`` sets it).

The keyboard walks use only ``page.keyboard``: Tab until the element the story needs has the focus (so
it must be reachable), then Enter or Space. The axe figures per page are written to
``var/e2e/axe-figures.md`` and, with ``PORTICO_REFRESH_DOCS=1``, into ``docs/accessibility.md``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from tests.e2e.axe import AxeReport, run_axe
from tests.e2e.portal_pages import (
    DOCS_DIR,
    EVIDENCE_DIR,
    FORM_FLOW_ID,
    FORM_NAMESPACE,
    PASSWORD,
    log_in,
    open_page,
    page_kinds,
    portal,  # noqa: F401  (fixture)
    settle,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FIGURES_START, FIGURES_END = "<!-- axe-figures:start -->", "<!-- axe-figures:end -->"
# The page background of each scheme (static/css/portico.css --bg): proof that the scheme took effect.
BACKGROUNDS = {"light": "rgb(246, 247, 251)", "dark": "rgb(15, 19, 32)"}


def _tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus (it must be reachable by Tab)."""
    target = page.locator(selector).first
    target.wait_for()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"{selector} is not reachable with Tab within {limit} presses on {page.url}")


def _has_focus(page: Any, selector: str) -> bool:
    return page.locator(selector).first.evaluate("el => el === document.activeElement")


def _write_figures(rows: list[tuple[str, str, AxeReport]]) -> None:
    lines = [
        "| Page | Scheme | Rules passed | Serious + critical | Moderate + minor |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, scheme, report in rows:
        lines.append(
            f"| {name} | {scheme} | {report.passes} | {report.count('serious', 'critical')} | "
            f"{report.count('moderate', 'minor')} |"
        )
    table = "\n".join(lines) + "\n"
    EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
    (EVIDENCE_DIR / "axe-figures.md").write_text(table, encoding="utf-8")
    doc = DOCS_DIR / "accessibility.md"
    if os.environ.get("PORTICO_REFRESH_DOCS") == "1" and doc.exists():
        text = doc.read_text(encoding="utf-8")
        start, end = text.index(FIGURES_START) + len(FIGURES_START), text.index(FIGURES_END)
        doc.write_text(text[:start] + "\n" + table + text[end:], encoding="utf-8")


def test_axe_finds_no_serious_violation_on_any_page_light_or_dark(portal, browser) -> None:  # noqa: F811
    base = portal["base"]
    rows: list[tuple[str, str, AxeReport]] = []
    failures: list[str] = []

    def check(name: str, scheme: str, page: Any) -> None:
        report = run_axe(page)
        rows.append((name, scheme, report))
        if report.blocking:
            failures.append(f"{name} ({scheme}) " + report.describe())

    for scheme in ("light", "dark"):
        pages: dict[str | None, Any] = {}
        for name, who, path in page_kinds(portal):
            if who not in pages:
                pages[who] = open_page(browser, scheme=scheme)
                if who:
                    log_in(pages[who], base, who)
            page = pages[who]
            page.goto(base + path)
            settle(page)
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUNDS[scheme]
            check(name, scheme, page)
            if name == "Request form":  # the same form after an invalid submit, errors shown
                page.locator("form.form [type=submit]").click()
                page.locator("[data-error-summary]").wait_for()
                check("Request form, invalid submit", scheme, page)
        for page in pages.values():
            page.context.close()
    _write_figures(rows)
    assert not failures, "\n".join(failures)
    assert len(rows) == 2 * (len(page_kinds(portal)) + 1)


def test_request_and_approval_stories_work_with_the_keyboard_alone(portal, browser) -> None:  # noqa: F811
    from portal.requests.models import ResourceRequest

    base = portal["base"]
    keys = open_page(browser)

    # Sign in: the login field has the focus already; type, Tab, type, Enter.
    keys.goto(f"{base}/accounts/login/")
    assert _has_focus(keys, "#id_login")
    keys.keyboard.type("requester")
    keys.keyboard.press("Tab")
    assert _has_focus(keys, "#id_password")
    keys.keyboard.type(PASSWORD)
    keys.keyboard.press("Enter")
    keys.wait_for_url(lambda url: "/accounts/login/" not in url)

    # The first Tab stop is the skip link; it moves the focus past the header into the page.
    keys.goto(f"{base}/")
    keys.keyboard.press("Tab")
    assert _has_focus(keys, "a.skip-link") and keys.locator("a.skip-link").is_visible()
    keys.keyboard.press("Enter")
    assert _has_focus(keys, "main#main")

    # Open the flow from the catalog.
    _tab_to(keys, f"a.card[href*='/flows/{FORM_NAMESPACE}/{FORM_FLOW_ID}/']")
    keys.keyboard.press("Enter")
    keys.wait_for_url(re.compile(rf"/flows/{FORM_NAMESPACE}/{FORM_FLOW_ID}/"))

    # Submit it empty: the page comes back with the focus on the error summary, announced as an alert,
    # whose items link to the fields.
    _tab_to(keys, "form.form [type=submit]")
    keys.keyboard.press("Enter")
    summary = keys.locator("[data-error-summary]")
    summary.wait_for()
    assert summary.get_attribute("role") == "alert"
    assert _has_focus(keys, "[data-error-summary]")
    assert summary.locator("a[href='#id_hostname']").count() == 1

    # Follow the summary's link to the field, fill the form, submit with the keyboard.
    _tab_to(keys, "[data-error-summary] a[href='#id_hostname']")
    keys.keyboard.press("Enter")
    assert _has_focus(keys, "#id_hostname")
    keys.keyboard.type("kbd-1")
    _tab_to(keys, "[name='replicas']")
    keys.keyboard.type("3")
    _tab_to(keys, "[name='size']")
    keys.keyboard.press("ArrowDown")  # small -> medium, as a keyboard user changes a select
    _tab_to(keys, "[name='public']")
    keys.keyboard.press("Space")
    _tab_to(keys, "form.form [type=submit]")
    keys.keyboard.press("Enter")
    # (The form posts to its own address, fragment included, so the request page keeps "#id_hostname".)
    keys.wait_for_url(re.compile(r"/requests/\d+/(#.*)?$"))
    request = ResourceRequest.objects.get(pk=int(re.search(r"/requests/(\d+)/", keys.url).group(1)))
    assert request.state == "PENDING_APPROVAL"
    assert request.inputs["hostname"] == "kbd-1" and request.inputs["replicas"] == 3
    assert request.inputs["size"] == "medium" and request.inputs["public"] is True

    # The log pane of a finished request can take the focus (so it scrolls by keyboard) and is named.
    keys.goto(f"{base}/requests/{portal['done']}/")
    _tab_to(keys, "[role=log]")
    assert keys.locator("[role=log]").first.get_attribute("aria-label")
    keys.context.close()

    # The approver signs in, reaches the queue through the nav and approves with the keyboard alone.
    approver = open_page(browser)
    approver.goto(f"{base}/accounts/login/")
    approver.keyboard.type("approver")
    approver.keyboard.press("Tab")
    approver.keyboard.type(PASSWORD)
    approver.keyboard.press("Enter")
    approver.wait_for_url(lambda url: "/accounts/login/" not in url)
    _tab_to(approver, "nav[aria-label='Main'] a[href$='/approvals/']")
    approver.keyboard.press("Enter")
    approver.wait_for_url(re.compile(r"/approvals/"))
    _tab_to(approver, f"#request-{request.pk} [name='comment']")
    approver.keyboard.type("fine by me")
    _tab_to(approver, f"#request-{request.pk} button[value='approve']")
    approver.keyboard.press("Space")
    wait_for(lambda: ResourceRequest.objects.get(pk=request.pk).state != "PENDING_APPROVAL", "the decision")
    request.refresh_from_db()
    assert request.state in {"APPROVED", "RUNNING", "SUCCEEDED"}
    approver.context.close()
