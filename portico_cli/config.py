"""Where the CLI finds its server and token: ``PORTICO_URL`` / ``PORTICO_TOKEN`` first, then
``~/.config/portico/config.json`` (written by ``portico login``, readable by its owner only)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """Nothing says which server to talk to, or with which token."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "portico" / "config.json"


def _stored() -> dict[str, str]:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return {k: str(v) for k, v in data.items() if k in ("url", "token")} if isinstance(data, dict) else {}


def load() -> Config:
    stored = _stored()
    url = os.environ.get("PORTICO_URL") or stored.get("url") or ""
    token = os.environ.get("PORTICO_TOKEN") or stored.get("token") or ""
    if not url or not token:
        raise ConfigError("not logged in: run `portico login` (or set PORTICO_URL and PORTICO_TOKEN)")
    return Config(url=url.rstrip("/"), token=token)


def save(config: Config) -> Path:
    """Write the file with 0600 from the start (never world-readable, not even for a moment)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps({"url": config.url, "token": config.token}, indent=2) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an older file may have had wider permissions
    return path
