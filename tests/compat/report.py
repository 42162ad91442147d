"""Compatibility report against Kestra's own test flows (``make compat``).

Usage: ``python -m tests.compat ../shared/kestra-flows``. Every file in ``valid/`` must load or
fail only with "... is not supported yet"; every file in ``invalid/`` must be rejected. Exit status 1
when a valid flow fails for another reason (a parser bug) or an invalid flow is accepted. Then the
flows Kestra's tests execute are run through ``flow run --json`` and compared with what those tests
assert (``tests.compat.runner``); any mismatch, or a selected flow that could not run, exits 1 too.
The figures of the expectation table come first: how many cases check more than the final state, and
the cases with no Kestra assertion behind their state, each with its reason.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from orchestrator.flowmodel.spec import Flow, FlowValidationError, load_flow
from tests.compat.expectations import EXPECTATIONS, Expectation
from tests.compat.runner import Outcome, RunReport, prepare_django, run_all

_UNSUPPORTED = re.compile(r"type '([^']+)' is not supported yet")


@dataclass
class Report:
    loaded: list[tuple[Path, Flow]] = field(default_factory=list)
    unsupported: dict[Path, list[str]] = field(default_factory=dict)  # file -> the types we lack
    broken: dict[Path, list[str]] = field(default_factory=dict)  # valid files failing for other reasons
    rejected: dict[Path, list[str]] = field(default_factory=dict)
    rejected_unsupported_only: dict[Path, list[str]] = field(default_factory=dict)
    accepted: list[Path] = field(default_factory=list)  # invalid files we wrongly accept

    @property
    def ok(self) -> bool:
        return not self.broken and not self.accepted


def _flow_files(directory: Path) -> list[Path]:
    return (
        sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml")) if directory.is_dir() else []
    )


def check(corpus: Path) -> Report:
    report = Report()
    for path in _flow_files(corpus / "valid"):
        try:
            report.loaded.append((path, load_flow(path)))
        except FlowValidationError as exc:
            if all(e.not_supported for e in exc.errors):
                report.unsupported[path] = sorted(
                    {m.group(1) for e in exc.errors if (m := _UNSUPPORTED.search(e.message))}
                )
            else:
                report.broken[path] = [str(e) for e in exc.errors if not e.not_supported]
    for path in _flow_files(corpus / "invalid"):
        try:
            load_flow(path)
        except FlowValidationError as exc:
            messages = [str(e) for e in exc.errors]
            if all(e.not_supported for e in exc.errors):
                report.rejected_unsupported_only[path] = messages
            else:
                report.rejected[path] = messages
        else:
            report.accepted.append(path)
    return report


def run_executions(loaded: list[tuple[Path, Flow]], corpus: Path, out: TextIO | None = None) -> RunReport:
    """Execute the loaded flows Kestra's tests run (``runner``) and print counts and mismatches."""
    stream = out or sys.stdout

    def progress(outcome: Outcome) -> None:
        mark = "ok" if outcome.matches else "MISMATCH"
        print(f"  {outcome.file}{_variant(outcome)}: {mark}", file=stream, flush=True)

    print(file=stream)
    print("executions:", file=stream)
    report = run_all(loaded, corpus, progress)
    print_executions(report, len(loaded), stream)
    return report


def _variant(outcome: Outcome) -> str:
    return f" (variant {outcome.variant})" if outcome.variant else ""


def print_executions(report: RunReport, loaded: int, out: TextIO) -> None:
    print(
        f"loaded: {loaded}; runnable with an expectation: {report.selected}; "
        f"executed: {report.executed}; matching: {report.matching}",
        file=out,
    )
    ran = report.cases
    beyond = sum(case.checks_beyond_state for case in ran)
    print(
        f"executed cases: {len(ran)}; checking more than the state: {beyond}; "
        f"with no Kestra assertion behind the state: {sum(not c.state_asserted for c in ran)}",
        file=out,
    )
    for name, why in sorted(report.skipped.items()):
        print(f"  skipped {name}: {why}", file=out)
    mismatches = report.mismatches
    if not mismatches:
        return
    width = max(len(o.file + _variant(o)) for o in mismatches)
    print(f"  {'flow':<{width}}  what differs", file=out)
    for outcome in mismatches:
        print(f"  {outcome.file + _variant(outcome):<{width}}  {'; '.join(outcome.problems)}", file=out)


def table_figures(table: dict[str, Expectation] | None = None) -> dict[str, int]:
    """Counts over the whole expectation table (every flow and variant, run here or not)."""
    cases = [case for e in (table or EXPECTATIONS).values() for case in (e, *e.variants)]
    return {
        "cases": len(cases),
        "beyond_state": sum(c.checks_beyond_state for c in cases),
        "logs": sum(bool(c.logs) for c in cases),
        "labels": sum(bool(c.labels) or any(p.startswith("@labels") for p in c.outputs) for c in cases),
        "attempts": sum(bool(c.attempts) for c in cases),
        "histories": sum(bool(c.history or c.task_history) for c in cases),
        "subflows": sum(c.subflows is not None for c in cases),
        "unasserted": sum(not c.state_asserted for c in cases),
        "no_kestra_assertion": sum(not c.state_asserted and not c.checks_beyond_state for c in cases),
    }


def print_table(out: TextIO | None = None, table: dict[str, Expectation] | None = None) -> None:
    """The expectation table's figures, and each case with no Kestra assertion behind its state."""
    stream = out or sys.stdout
    figures = table_figures(table)
    print(file=stream)
    print(
        f"expectations: {figures['cases']} cases; checking more than the state: {figures['beyond_state']} "
        f"(logs {figures['logs']}, labels {figures['labels']}, attempts {figures['attempts']}, "
        f"state histories {figures['histories']}, started executions {figures['subflows']}); "
        f"state not asserted by Kestra: {figures['unasserted']}, "
        f"of which nothing asserted by Kestra at all: {figures['no_kestra_assertion']}",
        file=stream,
    )
    for name, expectation in sorted((table or EXPECTATIONS).items()):
        for index, case in enumerate((expectation, *expectation.variants)):
            if not case.state_asserted:
                tag = f" (variant {index})" if index else ""
                print(f"  unasserted {name}{tag}: {case.unasserted or '(no reason given)'}", file=stream)


def print_report(report: Report, out: TextIO | None = None) -> None:
    def line(text: str = "") -> None:
        print(text, file=out or sys.stdout)

    valid_total = len(report.loaded) + len(report.unsupported) + len(report.broken)
    invalid_total = len(report.rejected) + len(report.rejected_unsupported_only) + len(report.accepted)
    line(f"valid/: {valid_total} files")
    line(f"  loaded OK:          {len(report.loaded)}")
    line(f"  not supported yet:  {len(report.unsupported)}")
    line(f"  other errors:       {len(report.broken)}")
    missing = Counter(t for types in report.unsupported.values() for t in types)
    if missing:
        line("  missing types (files needing them):")
        for type_name, count in missing.most_common():
            line(f"    {count:3d}  {type_name}")
    for path, errors in report.broken.items():
        line(f"  BUG {path.name}:")
        for error in errors:
            line(f"      {error}")
    line()
    line(f"invalid/: {invalid_total} files")
    line(f"  rejected:                          {len(report.rejected)}")
    line(f"  rejected only as not supported:    {len(report.rejected_unsupported_only)}")
    line(f"  wrongly accepted:                  {len(report.accepted)}")
    for path, messages in {**report.rejected, **report.rejected_unsupported_only}.items():
        line(f"  {path.name}:")
        for message in messages:
            line(f"      {message}")
    for path in report.accepted:
        line(f"  ACCEPTED (bug) {path.name}")
    rate = (len(report.loaded) + len(report.unsupported)) / valid_total if valid_total else 1.0
    line()
    line(
        f"valid flows loading or cleanly unsupported: {rate:.0%}; "
        f"loading: {len(report.loaded)}/{valid_total}; "
        f"invalid flows rejected: {invalid_total - len(report.accepted)}/{invalid_total}"
    )


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="directory holding valid/ and invalid/")
    parser.add_argument(
        "--no-run", dest="run", action="store_false", help="only load the flows, execute none of them"
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(
            f"{args.corpus}: no such directory (the Kestra corpus lives in ../shared/kestra-flows)",
            file=sys.stderr,
        )
        return 2
    with ExitStack() as stack:
        prepare_django(stack)  # some task types need the models; a private DB unless configured
        report = check(args.corpus)
        print_report(report)
        print_table()
        ran = run_executions(report.loaded, args.corpus) if args.run else None
    return exit_status(report, ran)


def exit_status(report: Report, ran: RunReport | None) -> int:
    """1 when a valid flow is broken, an invalid one accepted, or any run differs from what Kestra's
    tests assert (or could not be executed): an oracle that cannot fail proves nothing."""
    if not report.ok:
        return 1
    if ran is not None and (ran.mismatches or ran.executed < ran.selected):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
