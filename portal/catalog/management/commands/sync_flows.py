"""``manage.py sync_flows [DIR] [--strict]``: load the flows directory into the catalog.

Invalid files are reported on stderr and skipped; ``--strict`` turns them into a failing exit status
(for CI), while ``make up`` keeps serving the valid flows.
"""

from django.core.management.base import BaseCommand, CommandError

from portal.catalog.services import sync_flows


class Command(BaseCommand):
    help = "Sync the catalog with the flows directory (default: settings.FLOWS_DIR)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("directory", nargs="?", default=None)
        parser.add_argument("--strict", action="store_true", help="exit with an error if any file is invalid")

    def handle(self, *args, directory=None, strict=False, **options) -> None:  # noqa: ANN001, ANN002, ANN003
        report = sync_flows(directory)
        for label, names in (
            ("created", report.created),
            ("updated", report.updated),
            ("deactivated", report.deactivated),
        ):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        for error in report.errors:
            self.stderr.write(error)
        total = len(report.created) + len(report.updated) + len(report.unchanged)
        self.stdout.write(f"{total} flow(s) in the catalog, {len(report.invalid_files)} invalid file(s)")
        if report.errors and strict:
            raise CommandError("some flow files are invalid")
