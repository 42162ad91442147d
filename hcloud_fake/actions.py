"""Asynchronous actions: the API answers a change with an action that a client polls until it finishes.

An action reports ``running`` to its first ``polls`` reads and ``success`` after that, or once
``seconds`` have passed, whichever comes first; so the SDK's wait loops go round at least once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Action:
    id: int
    command: str
    resources: list[dict[str, Any]]
    polls_left: int
    deadline: float | None
    on_success: Callable[[], None] | None = None
    started: str = field(default_factory=now_iso)
    status: str = "running"
    progress: int = 0
    finished: str | None = None

    def finish(self) -> None:
        if self.status != "running":
            return
        self.status, self.progress, self.finished = "success", 100, now_iso()
        if self.on_success is not None:
            self.on_success()

    def observe(self) -> None:
        """One client read: count it down and finish when the budget is spent."""
        if self.status != "running":
            return
        self.polls_left -= 1
        if self.polls_left < 0:
            self.finish()
        else:
            self.progress = min(90, self.progress + 30)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "status": self.status,
            "progress": self.progress,
            "started": self.started,
            "finished": self.finished,
            "resources": [dict(r) for r in self.resources],
            "error": None,
        }


class ActionBook:
    """All actions of one fake; shares the cloud's lock because finishing an action changes resources."""

    def __init__(self, lock: threading.RLock, *, polls: int, seconds: float | None, ids: itertools.count):
        self._lock = lock
        self._ids = ids
        self.polls = polls
        self.seconds = seconds
        self.actions: dict[int, Action] = {}

    def start(
        self, command: str, resources: list[tuple[str, int]], on_success: Callable[[], None] | None = None
    ) -> Action:
        deadline = None if self.seconds is None else time.monotonic() + self.seconds
        action = Action(
            id=next(self._ids),
            command=command,
            resources=[{"id": rid, "type": rtype} for rtype, rid in resources],
            polls_left=self.polls,
            deadline=deadline,
            on_success=on_success,
        )
        self.actions[action.id] = action
        if self.polls <= 0 and self.seconds is None:
            action.finish()
        return action

    def tick(self) -> None:
        """Finish the actions whose time is up (only when a time budget is configured)."""
        now = time.monotonic()
        for action in list(self.actions.values()):
            if action.deadline is not None and now >= action.deadline:
                action.finish()

    def finish_all(self) -> None:
        for action in list(self.actions.values()):
            action.finish()
