"""``manage.py execution resume|kill|restart|replay ID``: the operator actions of
``orchestrator.executor.control``.

They only change state and enqueue work (a running worker does the rest), so they return at once and
print ``{"id", "state", "changed"}`` as JSON; exit 1 when nothing changed or the request was refused.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestrator.executor import control
from orchestrator.flowmodel import input_types
from orchestrator.state.models import Execution


class Command(BaseCommand):
    help = "Resume, kill, restart or replay an execution."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        resume = actions.add_parser("resume", help="resume a PAUSED execution")
        resume.add_argument("id")
        resume.add_argument("--input", "-i", action="append", default=[], metavar="KEY=VALUE")
        actions.add_parser("kill", help="kill a running or paused execution").add_argument("id")
        actions.add_parser("restart", help="restart a failed execution from its failed task").add_argument(
            "id"
        )
        replay = actions.add_parser("replay", help="a new execution, re-running from a task")
        replay.add_argument("id")
        replay.add_argument("--from", dest="from_task", default=None, metavar="TASK_ID")

    def handle(self, *args: Any, **options: Any) -> None:
        action, execution_id = options["action"], options["id"]
        try:
            if action == "resume":
                raw = dict(item.partition("=")[::2] for item in options["input"])
                changed = control.resume(execution_id, inputs=raw, acting_user="cli")
            elif action == "kill":
                changed = control.kill(execution_id, acting_user="cli")
            elif action == "restart":
                changed = control.restart(execution_id, acting_user="cli")
            else:
                replayed = control.replay(execution_id, options["from_task"], acting_user="cli")
                execution_id, changed = replayed.pk, True
        except input_types.InputsInvalid as exc:
            for input_id, message in exc.errors.items():
                self.stderr.write(f"input '{input_id}': {message}")
            sys.exit(1)
        except control.ControlError as exc:
            self.stderr.write(str(exc))
            sys.exit(1)
        execution = Execution.objects.get(pk=execution_id)
        self.stdout.write(json.dumps({"id": str(execution.pk), "state": execution.state, "changed": changed}))
        if not changed:
            sys.exit(1)
