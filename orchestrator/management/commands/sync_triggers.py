"""``manage.py sync_triggers [DIR]``: make Trigger rows and beat entries match the flows' triggers."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orchestrator.scheduler.triggers import sync_directory


class Command(BaseCommand):
    help = "Sync Schedule/Webhook/Flow triggers (and their celery-beat entries) from the flows directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", nargs="?", help="flows directory (default: settings.FLOWS_DIR)")

    def handle(self, *args: object, directory: str | None = None, **options: object) -> None:
        report = sync_directory(directory)
        for error in report.errors:
            self.stderr.write(error)
        self.stdout.write(
            f"{len(report.created)} created, {len(report.updated)} updated, {len(report.removed)} removed"
        )
