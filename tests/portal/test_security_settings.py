"""Production security settings: `check --deploy` is clean with the production environment, HTTPS-only
headers and cookies come with it, the CSP header is on every page and the pages keep to it, and the
embedded/dev defaults still serve plain HTTP."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTICO_"))}
    env.update(
        PORTICO_ENV="production",
        PORTICO_DATA_DIR=str(tmp_path),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="portico.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://portico.example.com",
        REDIS_URL="redis://127.0.0.1:6379/15",
        PORTICO_AUDIT_KEY=secrets.token_urlsafe(32),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_the_production_environment(tmp_path: Path) -> None:
    result = _run([sys.executable, "manage.py", "check", "--deploy"], _production_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output.upper()


def test_check_deploy_names_what_the_dev_defaults_leave_out(tmp_path: Path) -> None:
    """The same check without PORTICO_ENV: HTTP-friendly defaults, which the deploy check points out."""
    env = _production_env(tmp_path)
    del env["PORTICO_ENV"], env["REDIS_URL"]
    output = _run([sys.executable, "manage.py", "check", "--deploy"], env).stderr
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in output


def test_production_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"], env["REDIS_URL"]
    result = _run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0
    assert "PORTICO_ENV=production needs DJANGO_SECRET_KEY, REDIS_URL" in result.stderr


_PRODUCTION_RESPONSES = """
import django
django.setup()
from django.test import Client
client = Client()
plain = client.get("/static/css/portico.css", HTTP_HOST="portico.example.com")
print("plain", plain.status_code, plain.get("Location"))
tls = client.get("/static/css/portico.css", HTTP_HOST="portico.example.com", HTTP_X_FORWARDED_PROTO="https")
for name in ("Strict-Transport-Security", "Content-Security-Policy", "Referrer-Policy",
             "X-Content-Type-Options", "Cross-Origin-Opener-Policy"):
    print(name, "=", tls.get(name))
from django.conf import settings
print("cookies", settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,
      settings.SESSION_COOKIE_HTTPONLY, settings.SESSION_COOKIE_SAMESITE, settings.X_FRAME_OPTIONS,
      settings.CACHES["default"]["BACKEND"])
"""


def test_production_answers_over_https_only_behind_its_proxy(tmp_path: Path) -> None:
    """Real production settings in a subprocess: HTTP redirects, HTTPS (as the proxy reports it) gets HSTS."""
    env = _production_env(tmp_path, PORTICO_TRUSTED_PROXY_COUNT="1", DJANGO_SETTINGS_MODULE="portal.settings")
    result = _run([sys.executable, "-c", _PRODUCTION_RESPONSES], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "plain 301 https://portico.example.com/static/css/portico.css" in out
    assert "Strict-Transport-Security = max-age=31536000; includeSubDomains; preload" in out
    csp = re.search(r"^Content-Security-Policy = (.*)$", out, re.MULTILINE)
    assert csp and "default-src 'self'" in csp.group(1) and "script-src 'self';" in csp.group(1) + ";"
    assert "Referrer-Policy = same-origin" in out
    assert "X-Content-Type-Options = nosniff" in out
    assert "Cross-Origin-Opener-Policy = same-origin" in out
    assert "cookies True True True Lax DENY django.core.cache.backends.redis.RedisCache" in out


def test_dev_defaults_serve_plain_http() -> None:
    """`make up` and the tests run over http://localhost: nothing HTTPS-only is switched on."""
    assert not django_settings.PRODUCTION
    assert not django_settings.SECURE_SSL_REDIRECT
    assert not django_settings.SESSION_COOKIE_SECURE and not django_settings.CSRF_COOKIE_SECURE
    assert django_settings.SECURE_HSTS_SECONDS == 0
    assert django_settings.SECURE_PROXY_SSL_HEADER is None


def _csp(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
def test_the_login_page_carries_the_policy(client) -> None:  # noqa: ANN001
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_logged_in_pages_render_under_the_policy(client, alice, catalog) -> None:  # noqa: ANN001
    client.force_login(alice)
    for name in ("catalog:index", "requests:list", "resources:list"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "script-src 'self'" in response["Content-Security-Policy"]
        html = response.content.decode()
        _assert_keeps_to_the_policy(html)
        assert 'name="htmx-config"' in html and '"allowEval": false' in html


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_EVENT_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
_STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)


def _assert_keeps_to_the_policy(html: str) -> None:
    assert not _INLINE_SCRIPT.findall(html)
    assert not _EVENT_HANDLER.findall(html)
    assert not _STYLE_ELEMENT.findall(html)


def test_no_template_needs_inline_script() -> None:
    """script-src 'self' and style-src 'self': no inline <script>, event handler or <style> in a template."""
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert not _INLINE_SCRIPT.findall(text), path
        assert not _EVENT_HANDLER.findall(text), path
        assert not _STYLE_ELEMENT.findall(text), path


def test_the_healthcheck_answers_plain_http_on_localhost_under_production_settings(tmp_path: Path) -> None:
    """The compose healthcheck calls http://127.0.0.1:8000/healthz inside the container: production's
    HTTPS redirect and Host check must not turn a healthy server into a failing probe; every other path
    still gets them."""
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "print(c.get('/healthz', HTTP_HOST='127.0.0.1:8000').status_code)\n"
        "print(c.get('/accounts/login/', HTTP_HOST='127.0.0.1:8000').status_code)\n"
        "print(c.get('/accounts/login/', HTTP_HOST='portico.example.com').status_code)\n"
    )
    env = _production_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'health.sqlite3'}",  # its own, whichever database the run uses
    )
    migrate = _run([sys.executable, "manage.py", "migrate", "--noinput"], env)
    assert migrate.returncode == 0, migrate.stderr
    result = _run([sys.executable, "-c", script], env)
    assert result.returncode == 0, result.stderr
    healthz, wrong_host, redirected = result.stdout.split()
    assert (healthz, wrong_host, redirected) == ("200", "400", "301")
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "http://127.0.0.1:8000/healthz" in compose
