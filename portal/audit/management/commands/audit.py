"""``manage.py audit verify | export | archive``: the audit log for an auditor.

``verify`` walks archives then the table and names the first broken link (exit status 1 when broken).
``export --format csv|jsonl [--since --until --verb --actor] [--output FILE]`` streams the rows in chain
order, a chunk at a time. ``archive [--days N]`` runs the retention job now (portal/audit/archive.py).
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.audit import archive, selectors
from portal.audit.verification import verify_chain_report

EXPORTERS = {"csv": selectors.export_csv_rows, "jsonl": selectors.export_jsonl_rows}


class Command(BaseCommand):
    help = "Verify, export or archive the audit log."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("verify", help="check every link; exit status 1 at the first broken one")
        export = commands.add_parser("export", help="write the (filtered) log as CSV or JSON Lines")
        export.add_argument("--format", choices=sorted(EXPORTERS), default="jsonl")
        export.add_argument("--since", help="first day, YYYY-MM-DD (inclusive)")
        export.add_argument("--until", help="last day, YYYY-MM-DD (inclusive)")
        export.add_argument("--verb", help="one event, e.g. request.approved (older spellings too)")
        export.add_argument("--actor", help="a username or a user id")
        export.add_argument("--output", help="a file to write (default: standard output)")
        archived = commands.add_parser("archive", help="archive rows older than the retention now")
        archived.add_argument("--days", type=float, help="default: PORTICO_AUDIT_RETENTION_DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _verify(self, options: dict[str, Any]) -> None:
        report = verify_chain_report()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event {report.broken_at}: {report.reason}", returncode=1
            )
        archived = (
            f", {report.archived_rows} in {len(report.archives)} archive file(s)" if report.archives else ""
        )
        self.stdout.write(f"audit chain verified: {report.rows} event(s) in the table{archived}")

    def _export(self, options: dict[str, Any]) -> None:
        params = {k: options[k] for k in ("since", "until", "verb") if options.get(k)}
        if actor := options.get("actor"):
            users = get_user_model().objects
            found = users.filter(username=actor).values_list("pk", flat=True).first()
            if found is None and actor.isdigit():
                found = users.filter(pk=int(actor)).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"no user {actor!r}")
            params["actor"] = str(found)
        events = selectors.filter_events(params).order_by("id")  # chain order
        pieces = EXPORTERS[options["format"]](events)
        if options.get("output"):
            with open(options["output"], "w", encoding="utf-8", newline="") as handle:
                for piece in pieces:
                    handle.write(piece)
            return
        out = self.stdout if self.stdout is not None else sys.stdout
        for piece in pieces:
            out.write(piece, ending="")
        out.flush()

    def _archive(self, options: dict[str, Any]) -> None:
        done = archive.archive_expired(options.get("days"))
        for manifest in done:
            self.stdout.write(
                f"archived events {manifest['first_id']}–{manifest['last_id']} to {manifest['file']}"
            )
        self.stdout.write(f"{len(done)} archive file(s) written to {archive.archive_dir()}")
