"""``manage.py hcloud_fake``: run the Hetzner Cloud fake in the foreground for ``make up`` or by hand.

Point Portico (or the ``hcloud`` CLI/SDK) at the printed endpoint with the printed token.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestrator.hcloud_fake import DEFAULT_TOKEN, HcloudFake


class Command(BaseCommand):
    help = "Serve a local fake of the Hetzner Cloud API (loopback by default) until interrupted."
    requires_system_checks: list[str] = []  # a standalone HTTP fake: no models, no DB

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token the fake accepts")
        parser.add_argument(
            "--action-polls",
            type=int,
            default=2,
            help="reads an action answers 'running' to before 'success'",
        )
        parser.add_argument(
            "--action-seconds", type=float, default=None, help="or finish actions after this many seconds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fake = HcloudFake(
            token=options["token"],
            host=options["host"],
            port=options["port"],
            action_polls=options["action_polls"],
            action_seconds=options["action_seconds"],
        )
        self.stdout.write(f"hcloud fake on {fake.endpoint} (token {options['token']!r}); Ctrl-C stops it")
        self.stdout.flush()
        try:
            fake.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("hcloud fake stopped")
