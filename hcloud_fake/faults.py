"""Queued faults: a test arms one for the next N matching requests, the fake serves it instead.

Kinds: ``error`` (any status + API error code, e.g. 429 ``rate_limit_exceeded`` or 412
``resource_unavailable``) and ``timeout`` (hold the request past the client's timeout, then drop the
connection without processing it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_CODES = {
    429: "rate_limit_exceeded",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
}


@dataclass
class Fault:
    kind: Literal["error", "timeout"]
    times: int = 1
    method: str | None = None
    path: str | None = None  # a route template ("/servers/{id}") or concrete path ("/servers/42")
    status: int = 503
    code: str = "unavailable"
    message: str = "fault injected by the fake"
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    served: int = 0

    def matches(self, method: str, path: str, template: str | None) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or self.path in (path, template)


class FaultQueue:
    """First armed, first served; a fault retires after ``times`` matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str, template: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, template):
                    fault.served += 1
                    if fault.served >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
