"""The deployment files and the README describe the settings the code really reads.

They are not executed here (no Docker on CI), so these checks keep them from drifting silently.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("migrate", "web", "worker", "beat")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_documents_every_environment_variable_the_settings_read() -> None:
    source = (ROOT / "portal" / "settings.py").read_text()
    names = set(re.findall(r'(?:environ\.get|_env_bool)\("([A-Z0-9_]+)"', source))
    readme = (ROOT / "README.md").read_text()
    assert names, "no environment variables found in settings.py"
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


def test_it_configures_every_role_from_one_environment() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", *ROLES} <= set(services)
    for role in ROLES:
        env = services[role]["environment"]
        for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "EMAIL_HOST"):
            assert name in env, f"{role} lacks {name}"
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")


def test_it_runs_the_worker_on_the_queue_the_portal_dispatches_to() -> None:
    # Compose sets no PORTICO_QUEUE, so the portal dispatches to the default queue of settings.py.
    default_queue = re.search(r'"PORTICO_QUEUE", "([^"]+)"', (ROOT / "portal" / "settings.py").read_text())
    services = _compose()["services"]
    worker = services["worker"]["command"]
    assert default_queue and worker[worker.index("-Q") + 1] == default_queue.group(1)
    beat = services["beat"]["command"]
    assert beat[beat.index("--scheduler") + 1] == settings.CELERY_BEAT_SCHEDULER
    assert "gunicorn" in services["web"]["command"]


def test_it_ships_an_executable_ci_script() -> None:
    script = ROOT / ".ci" / "run"
    assert script.stat().st_mode & stat.S_IXUSR
    assert script.read_text().startswith("#!/usr/bin/env bash")
