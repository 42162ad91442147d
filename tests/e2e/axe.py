"""axe-core in the browser tests, offline: the engine is vendored (``vendor/axe.min.js``, from npm's
``axe-core`` package, MPL-2.0, licence beside it) and evaluated into the page under test.

``page.evaluate`` runs through the DevTools protocol, outside the page's Content-Security-Policy, so the
portal's ``script-src 'self'`` needs no exception for the tests. A page fails on any violation of impact
"serious" or "critical", and on the few lesser rules the portal promises anyway (``STRICT_RULES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# Moderate in axe's grading, but issue 13 asks for them: heading order, every text inside a landmark
# (the skip link's target and the page regions), one main landmark.
STRICT_RULES = frozenset({"heading-order", "region", "landmark-one-main", "page-has-heading-one"})
# WCAG 2.1 A/AA plus axe's best practices (heading order, regions and landmarks live there).
RUN_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}


@dataclass
class AxeReport:
    """axe's verdict on one page: its violations, and which of them fail the page."""

    url: str
    violations: list[dict[str, Any]]
    passes: int
    blocking: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.blocking = [
            v for v in self.violations if v.get("impact") in BLOCKING_IMPACTS or v["id"] in STRICT_RULES
        ]

    def count(self, *impacts: str) -> int:
        """Violating nodes of the given impacts (all impacts when none is given)."""
        return sum(len(v["nodes"]) for v in self.violations if not impacts or v.get("impact") in impacts)

    def describe(self) -> str:
        """One line per failing rule and node: enough to find the element without a debugger."""
        lines = [f"axe on {self.url}:"]
        for violation in self.blocking:
            lines.append(f"  [{violation.get('impact')}] {violation['id']}: {violation['help']}")
            for node in violation["nodes"][:6]:
                summary = (node.get("failureSummary") or "").replace("\n", " ")[:240]
                lines.append(f"      {' '.join(map(str, node['target']))}  {summary}")
        return "\n".join(lines)


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(page: Any) -> AxeReport:
    """Run axe-core over the whole document as it is now (after any htmx swap the caller waited for)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result = page.evaluate("options => window.axe.run(document, options)", RUN_OPTIONS)
    # resultTypes keeps the passing rules listed (with one example node each): their count is cheap.
    return AxeReport(url=page.url, violations=result["violations"], passes=len(result["passes"]))


def assert_accessible(page: Any) -> AxeReport:
    """Fail the test on a serious/critical violation (or a ``STRICT_RULES`` one); return the report."""
    report = run_axe(page)
    assert not report.blocking, report.describe()
    return report
