"""Start the test provider as a child process, and play the browser's part of a sign-in against it."""

from __future__ import annotations

import html
import os
import re
import secrets
import selectors
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
_START_LIMIT_SECONDS = 120  # a hung start fails the fixture instead of the whole run


@dataclass
class OIDCProvider:
    issuer: str
    client_id: str
    client_secret: str
    control_token: str
    process: subprocess.Popen
    log: Path
    _http: requests.Session = field(default_factory=requests.Session)

    def _control(self, path: str, payload: dict) -> dict:
        response = self._http.post(
            f"{self.base_url}/_test/{path}",
            json=payload,
            headers={"X-Test-Control": self.control_token},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    @property
    def base_url(self) -> str:
        return self.issuer.rsplit("/o", 1)[0]

    def set_user(self, username: str, password: str, *, groups: list[str], email: str = "") -> str:
        """Create or update a user at the provider; its subject (``sub``)."""
        data = {"username": username, "password": password, "groups": groups, "email": email}
        return self._control("user", data)["sub"]

    def set_mode(self, mode: str) -> None:
        """Make the token endpoint's ID tokens broken in one way (``views.MODES``); "" for honest ones."""
        self._control("mode", {"mode": mode})

    def stop(self) -> None:
        self._http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_provider(workdir: Path, *, redirect_uris: list[str]) -> OIDCProvider:
    """Start ``serve`` with an RS256 key made now; returns once it accepts connections."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = workdir / "signing-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    client_id, client_secret, control = (secrets.token_urlsafe(16) for _ in range(3))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
        "OIDC_TEST_SECRET_KEY": secrets.token_urlsafe(40),
        "OIDC_TEST_DB": str(workdir / "provider.sqlite3"),
        "OIDC_TEST_KEY_FILE": str(key_file),
        "OIDC_TEST_CLIENT_ID": client_id,
        "OIDC_TEST_CLIENT_SECRET": client_secret,
        "OIDC_TEST_CONTROL_TOKEN": control,
        "OIDC_TEST_REDIRECT_URIS": " ".join(redirect_uris),
    }
    log = workdir / "provider.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider.serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=_START_LIMIT_SECONDS)
    line = process.stdout.readline().decode() if ready else ""
    if not line.startswith("PORT "):
        process.kill()
        process.wait()
        raise RuntimeError(f"the test OIDC provider did not start:\n{log.read_text()}")
    port = int(line.split()[1])
    return OIDCProvider(
        issuer=f"http://127.0.0.1:{port}/o",
        client_id=client_id,
        client_secret=client_secret,
        control_token=control,
        process=process,
        log=log,
    )


def _field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} field on the provider's page"
    return html.unescape(match.group(1))


def browser_sign_in(authorize_url: str, username: str, password: str, *, back_to: str) -> str:
    """Follow ``authorize_url`` like a browser: sign in at the provider, stop at the redirect ``back_to`` us.

    Returns that redirect URL (with ``code`` and ``state``, or ``error``), for the portal's test client.
    """
    with requests.Session() as browser:
        url = authorize_url
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=30)
            if response.status_code == 200 and 'name="password"' in response.text:
                response = browser.post(
                    urljoin(response.url, "/accounts/login/"),
                    data={
                        "csrfmiddlewaretoken": _field(response.text, "csrfmiddlewaretoken"),
                        "next": _field(response.text, "next"),
                        "username": username,
                        "password": password,
                    },
                    allow_redirects=False,
                    timeout=30,
                )
            if response.status_code not in (301, 302, 303):
                raise AssertionError(f"the provider answered {response.status_code}: {response.text[:500]}")
            url = urljoin(response.url, response.headers["Location"])
            if url.startswith(back_to):
                return url
    raise AssertionError("the provider never redirected back to the portal")
