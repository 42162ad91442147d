"""Layout on a laptop (1440 px) and a phone (390 px), in a real browser.

No page scrolls sideways at either width (the approval queue used to at 1440 px); on the phone the main
navigation folds behind a "Menu" button that reaches every link, and tables turn into labelled cards
whose key column stays in view. The screenshots of the main pages are written to
``var/e2e/screenshots/`` and, with ``PORTICO_REFRESH_DOCS=1``, to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.e2e.portal_pages import (
    DESKTOP,
    DOCS_DIR,
    EVIDENCE_DIR,
    PHONE,
    log_in,
    open_page,
    page_kinds,
    portal,  # noqa: F401  (fixture)
    settle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The pages docs/screenshots/ shows, by their name in page_kinds(), and the file stem for each.
SCREENSHOTS = {
    "Catalog": "catalog",
    "Request form": "request-form",
    "Request page, finished": "request-page",
    "Approval queue": "approval-queue",
    "Execution": "execution-page",
    "My resources": "resources",
}
# Elements wider than the viewport, described for the failure message (right edge, tag, classes).
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) {
      wide.push(`${Math.round(box.right)}px ${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""


def _screenshot_dir() -> Any:
    if os.environ.get("PORTICO_REFRESH_DOCS") == "1":
        return DOCS_DIR / "screenshots"
    return EVIDENCE_DIR / "screenshots"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440px", "390px"])
def test_no_page_scrolls_sideways(portal, browser, viewport) -> None:  # noqa: F811
    base, width = portal["base"], viewport["width"]
    shots = _screenshot_dir()
    shots.mkdir(parents=True, exist_ok=True)
    pages: dict[str | None, Any] = {}
    overflowing: list[str] = []
    for name, who, path in page_kinds(portal):
        if who not in pages:
            pages[who] = open_page(browser, viewport=viewport)
            if who:
                log_in(pages[who], base, who)
        page = pages[who]
        page.goto(base + path)
        settle(page)
        found = page.evaluate(OVERFLOW_JS)
        if found["scroll"] > found["width"]:
            overflowing.append(f"{name} at {width}px: {found['scroll']}px wide; {found['wide']}")
        if name in SCREENSHOTS:
            suffix = "desktop" if width >= 1000 else "phone"
            page.screenshot(path=str(shots / f"{SCREENSHOTS[name]}-{suffix}.png"), full_page=True)
    for page in pages.values():
        page.context.close()
    assert not overflowing, "\n".join(overflowing)


def test_phone_navigation_reaches_every_link_and_tables_become_cards(portal, browser) -> None:  # noqa: F811
    base = portal["base"]
    phone = open_page(browser, viewport=PHONE)
    log_in(phone, base, "approver")
    phone.goto(f"{base}/executions/")
    settle(phone)

    # Folded: the links are hidden behind the Menu button, which says so (aria-expanded).
    toggle = phone.locator("button.nav-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    links = phone.locator("#main-nav a")
    names = links.all_inner_texts()
    assert len(names) >= 5 and not links.first.is_visible()

    # Open with the keyboard: every link is visible, inside the viewport, and reachable by Tab.
    toggle.focus()
    phone.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    for index in range(links.count()):
        link = links.nth(index)
        box = link.bounding_box()
        assert link.is_visible() and box is not None, names[index]
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], names[index]
        assert box["height"] >= 24, f"{names[index]}: a tap target this small is hard to hit"
        phone.keyboard.press("Tab")
        assert link.evaluate("el => el === document.activeElement"), names[index]
    # Escape folds it again and gives the focus back to the button.
    phone.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert toggle.evaluate("el => el === document.activeElement")

    # The list of executions is a stack of cards: every cell labelled with its column, the execution's
    # link (the key column) fully in view, nothing cut off on the right.
    first_row = phone.locator("table.table tbody tr").first
    cells = first_row.locator("td")
    labels = [cells.nth(i).get_attribute("data-label") for i in range(cells.count())]
    assert all(labels), labels
    assert first_row.evaluate("tr => getComputedStyle(tr).display") == "block"
    key_link = first_row.locator("a").first
    box = key_link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    # On the laptop the same nav is a plain row of links and the Menu button stays out of the way.
    desktop = open_page(browser, viewport=DESKTOP)
    log_in(desktop, base, "approver")
    desktop.goto(f"{base}/executions/")
    assert not desktop.locator("button.nav-toggle").is_visible()
    assert all(desktop.locator("#main-nav a").nth(i).is_visible() for i in range(len(names)))
    assert desktop.locator("table.table thead").is_visible()
    phone.context.close()
    desktop.context.close()
