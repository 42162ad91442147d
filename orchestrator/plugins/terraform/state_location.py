"""Where a resource's Terraform state lives, and how it is locked: one state per (module, state key).

On PostgreSQL the state goes to Terraform's ``pg`` backend in the Portico database (schema per
module, workspace = state key); Terraform locks it with advisory locks, held for each command.
On SQLite (one machine) it is a ``local`` state file under ``DATA_DIR/terraform/<module>/<key>/``:
Terraform's own lock covers one command only, so a file lock held around our whole run also keeps a
plan → apply batch from interleaving with another run of the same key.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connections

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,89}$")  # URL-safe (Terraform workspace rule), no '/'
_POLL_SECONDS = 0.1


class StateLocked(Exception):
    """Another run holds this state's lock past the lock timeout (worth a retry)."""


def state_root() -> Path:
    return Path(settings.DATA_DIR) / "terraform"


def private_dir(path: Path) -> Path:
    """A directory only the worker's user can read: states, plans and working copies hold secrets."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


@dataclass(frozen=True)
class StateLocation:
    module: str
    key: str
    kind: str  # "pg" or "local"

    @property
    def workspace(self) -> str | None:
        return self.key if self.kind == "pg" else None

    @property
    def directory(self) -> Path:
        return state_root() / self.module / self.key

    def secrets(self) -> list[str]:
        """The database password: Terraform may echo the connection string in an error."""
        password = connections["default"].settings_dict.get("PASSWORD")
        return [str(password)] if self.kind == "pg" and password else []

    def backend_config(self) -> dict[str, Any]:
        """The JSON for ``portico_backend_override.tf.json``: Portico, not the module, owns the state."""
        if self.kind == "pg":
            block = {"pg": {"conn_str": pg_conn_str(), "schema_name": schema_name(self.module)}}
        else:
            block = {"local": {"path": str(self.directory / "terraform.tfstate")}}
        return {"terraform": {"backend": block}}

    @contextmanager
    def guard(self, timeout: float) -> Iterator[None]:
        """Hold our own lock on a local state for the whole run (pg: Terraform's advisory locks do it)."""
        if self.kind == "pg":
            yield
            return
        private_dir(self.directory)
        with open(self.directory / ".portico.lock", "w") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StateLocked(
                            f"state {self.module}/{self.key} is locked by another run (waited {timeout:g} s)"
                        ) from None
                    time.sleep(_POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def location(module: str, key: str) -> StateLocation:
    for label, value in (("module", module), ("stateKey", key)):
        if not NAME_RE.match(value):
            raise ValueError(f"{label} {value!r} must match {NAME_RE.pattern}")
    vendor = connections["default"].vendor
    return StateLocation(module, key, "pg" if vendor == "postgresql" else "local")


def schema_name(module: str) -> str:
    """One schema per module, so equal keys of different modules never share a state."""
    return ("tfstate_" + re.sub(r"[^a-z0-9_]", "_", module.lower()))[:63]


def pg_conn_str() -> str:
    """The default database as a lib/pq URL (the live settings: a test database when under test)."""
    db = connections["default"].settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    local = host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")
    sslmode = (db.get("OPTIONS") or {}).get("sslmode", "disable" if local else "require")
    query: dict[str, str] = {"sslmode": sslmode}
    if host.startswith("/"):
        query["host"], host = host, ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}?{urlencode(query)}"


@dataclass(frozen=True)
class HeldState:
    """A state Portico's backend holds, and how many managed resources are in it (for the drift sweep)."""

    module: str  # the module directory (local) or the pg schema name
    key: str
    resources: int


def _managed(state: Any) -> int:
    resources = state.get("resources") if isinstance(state, dict) else None
    return sum(1 for r in resources or [] if isinstance(r, dict) and r.get("mode") == "managed")


def held_states() -> list[HeldState]:
    """Every state of the current backend with its count of managed resources (unreadable ones: -1).

    Read straight from where ``backend_config`` puts them (files under ``state_root()``, or the pg
    backend's ``states`` tables), without Terraform: a sweep over hundreds of states must stay cheap.
    """
    if connections["default"].vendor == "postgresql":
        found: list[HeldState] = []
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'states' AND table_schema LIKE 'tfstate\\_%%'"
            )
            for (schema,) in cursor.fetchall():
                cursor.execute(f'SELECT name, data FROM "{schema}".states')  # schema from the catalog
                for name, data in cursor.fetchall():
                    try:
                        count = _managed(json.loads(data or "{}"))
                    except ValueError:
                        count = -1
                    found.append(HeldState(schema, name, count))
        return found
    held = []
    root = state_root()
    for path in sorted(root.glob("*/*/terraform.tfstate")) if root.is_dir() else []:
        try:
            count = _managed(json.loads(path.read_text() or "{}"))
        except (OSError, ValueError):
            count = -1
        held.append(HeldState(path.parent.parent.name, path.parent.name, count))
    return held
