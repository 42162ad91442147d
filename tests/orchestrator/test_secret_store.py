"""Namespace secrets: ``{{ secret('NAME') }}`` reads an encrypted store managed in the admin (or Vault).

Flows run through the real in-process Celery worker; Vault is a local HTTP server answering KV v2 reads
as Vault documents them (no ``vault`` binary can be installed here), driven through the real hvac client.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from orchestrator.flowmodel import secrets_at_rest, templating
from orchestrator.state import secret_store
from orchestrator.state.models import Execution, LogLine, NamespaceSecret, State
from portal.audit.models import AuditEvent

VALUE = "st0re-Secret-Vx7q"


def logged(execution: Execution) -> list[str]:
    return list(LogLine.objects.filter(execution=execution).order_by("id").values_list("message", flat=True))


def database_text() -> str:
    """Every row of every table, as text: what a database dump would show."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (our tables)
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def render(template: str, namespace: str | None) -> str:
    context = {"flow": {"id": "f", "namespace": namespace}} if namespace else {}
    return templating.render_string(template, context)


def shell_flow(namespace: str, env: str, commands: str, inputs: str = "") -> str:
    return (
        f"id: secrets\nnamespace: {namespace}\n{inputs}tasks:\n  - id: run\n"
        f"    type: io.kestra.plugin.scripts.shell.Commands\n    env: {env}\n    commands: {commands}\n"
    )


# --- a flow reads its namespace's store ----------------------------------------------------------------


def test_a_flow_uses_its_namespace_secret_and_logs_it_masked(run_flow: Any) -> None:
    secret_store.set_secret("company.team", "API_TOKEN", VALUE)

    split = f'"{VALUE[:5]}""{VALUE[5:]}"'  # the flow text itself never holds the value in one piece
    execution = run_flow(
        "id: uses\nnamespace: company.team\ntasks:\n"
        "  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: \"token={{ secret('API_TOKEN') }}\"\n"
        "  - id: run\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    env: {TOKEN: \"{{ secret('API_TOKEN') }}\"}\n"
        f"    commands: ['test \"$TOKEN\" = {split} && echo matched', 'echo \"$TOKEN\"']\n"
    )

    assert execution.state == State.SUCCESS
    lines = logged(execution)
    assert "matched" in lines  # the script got the stored value itself
    assert "token=" + "*" * len(VALUE) in lines and "*" * len(VALUE) in lines  # masked as Kestra does
    assert not any(VALUE in line for line in lines)


def test_a_task_output_holding_a_secret_is_stored_sealed(run_flow: Any) -> None:
    """A value ``secret()`` read never reaches a task-run row in plain text (nor the execution's)."""
    secret_store.set_secret("company.team", "API_TOKEN", VALUE)
    execution = run_flow(
        "id: echoes\nnamespace: company.team\ntasks:\n"
        "  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n"
        "    format: \"bearer {{ secret('API_TOKEN') }}\"\n"
        "outputs:\n  - id: header\n    type: STRING\n    value: \"{{ outputs.echo.value }}\"\n"
    )

    assert execution.state == State.SUCCESS
    run = execution.task_runs.get(task_id="echo")
    assert secrets_at_rest.is_sealed(run.outputs["value"])
    assert secrets_at_rest.is_sealed(execution.outputs["header"])
    assert VALUE not in database_text()


def test_a_missing_secret_fails_the_task_naming_it(run_flow: Any) -> None:
    execution = run_flow(
        "id: missing\nnamespace: company.team\ntasks:\n"
        "  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ secret('NOWHERE_SET') }}\"\n"
    )

    assert execution.state == State.FAILED
    assert "secret 'NOWHERE_SET' is not configured" in execution.task_runs.get(task_id="log").error


# --- Kestra's namespace inheritance --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_child_namespace_inherits_its_parents_secrets_unless_it_defines_its_own() -> None:
    secret_store.set_secret("company", "SHARED", "from-company")
    secret_store.set_secret("company", "DB_PASSWORD", "company-password")
    secret_store.set_secret("company.team", "DB_PASSWORD", "team-password")

    assert render("{{ secret('SHARED') }}", "company.team.app") == "from-company"
    assert render("{{ secret('DB_PASSWORD') }}", "company.team.app") == "team-password"
    assert render("{{ secret('DB_PASSWORD') }}", "company.team") == "team-password"
    assert render("{{ secret('DB_PASSWORD') }}", "company") == "company-password"
    secret_store.set_secret("company.team", "ONLY_TEAM", "team-only")
    for outsider in ("company", "companyx.team", "other"):  # parents, not siblings nor name prefixes
        with pytest.raises(templating.TemplateError, match="secret 'ONLY_TEAM' is not configured"):
            render("{{ secret('ONLY_TEAM') }}", outsider)
    with pytest.raises(templating.TemplateError, match="secret 'SHARED' is not configured"):
        render("{{ secret('SHARED') }}", None)  # no flow, no namespace: no store secret


@pytest.mark.django_db
def test_a_template_cannot_pretend_to_be_another_namespace() -> None:
    secret_store.set_secret("company", "SHARED", "from-company")
    hostile = [
        "{% set flow = {'namespace': 'company'} %}{{ secret('SHARED') }}",
        "{% with flow = {'namespace': 'company'} %}{{ secret('SHARED') }}{% endwith %}",
        "{% for flow in [{'namespace': 'company'}] %}{{ secret('SHARED') }}{% endfor %}",
    ]
    for text in hostile:
        with pytest.raises(templating.TemplateError, match="secret 'SHARED' is not configured"):
            render(text, "other.team")


# --- the environment as the fallback -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_environment_is_the_fallback_and_the_store_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_WEBHOOK_KEY", base64.b64encode(b"from-env-42").decode())
    monkeypatch.setenv("SECRET_MULTI_LINE", "ZnJvbS1l\nbnYtOTk=")  # Kestra drops the line breaks
    monkeypatch.setenv("SECRET_BROKEN", "not base64!")

    assert render("{{ secret('WEBHOOK_KEY') }}", "company.team") == "from-env-42"
    assert render("{{ secret('webhook_key') }}", "company.team") == "from-env-42"  # Kestra upper-cases
    assert render("{{ secret('MULTI_LINE') }}", "company.team") == "from-env-99"
    with pytest.raises(templating.TemplateError, match="SECRET_BROKEN is not valid base64"):
        render("{{ secret('BROKEN') }}", "company.team")
    secret_store.set_secret("company", "WEBHOOK_KEY", "from-store-7")
    assert render("{{ secret('WEBHOOK_KEY') }}", "company.team") == "from-store-7"
    assert render("{{ secret('WEBHOOK_KEY') }}", "elsewhere") == "from-env-42"


# --- rotation without a restart ------------------------------------------------------------------------


def test_a_changed_value_is_used_by_the_next_run_without_a_restart(run_flow: Any) -> None:
    def same_as(expected: str) -> list[str]:
        text = shell_flow(
            "company.team",
            "{T: \"{{ secret('ROTATED') }}\", E: '{{ inputs.expected }}'}",
            '[\'if [ "$T" = "$E" ]; then echo same; else echo different; fi\']',
            "inputs:\n  - id: expected\n    type: STRING\n",
        )
        execution = run_flow(text, {"expected": expected})
        assert execution.state == State.SUCCESS
        return logged(execution)

    secret_store.set_secret("company", "ROTATED", "first-value-111")
    assert same_as("first-value-111") == ["same"]
    secret_store.set_secret("company", "ROTATED", "second-value-222")  # same worker, no restart
    assert same_as("second-value-222") == ["same"]
    assert same_as("first-value-111") == ["different"]
    secret_store.set_secret("company.team", "ROTATED", "team-value-333")  # an override appears
    assert same_as("team-value-333") == ["same"]


@pytest.mark.django_db
def test_key_rotation_re_encrypts_the_store(settings: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTICO_SECRET_KEYS = old
    secret_store.set_secret("company", "KEYED", VALUE)
    before = NamespaceSecret.objects.get(name="KEYED").sealed

    settings.PORTICO_SECRET_KEYS = f"{new},{old}"
    call_command("rotate_secrets", stdout=io.StringIO())
    settings.PORTICO_SECRET_KEYS = new  # the old key is gone

    after = NamespaceSecret.objects.get(name="KEYED").sealed
    assert after != before and secrets_at_rest.is_sealed(after)
    assert render("{{ secret('KEYED') }}", "company") == VALUE
    settings.PORTICO_SECRET_KEYS = old  # a key that cannot open it: a clear error, no value
    with pytest.raises(templating.TemplateError, match="cannot be decrypted with PORTICO_SECRET_KEYS"):
        render("{{ secret('KEYED') }}", "company")


# --- the admin: write-only, audited by name ------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_sets_and_replaces_a_value_it_never_shows(admin_client: Any, admin_user: Any) -> None:
    add = reverse("admin:orchestrator_namespacesecret_add")
    assert "value" in admin_client.get(add).content.decode()
    response = admin_client.post(add, {"namespace": "company", "name": "HCLOUD", "value": VALUE})
    assert response.status_code == 302, response.content.decode()[:2000]
    row = NamespaceSecret.objects.get(namespace="company", name="HCLOUD")
    change = reverse("admin:orchestrator_namespacesecret_change", args=[row.pk])

    for url in (change, reverse("admin:orchestrator_namespacesecret_changelist"), change + "history/"):
        page = admin_client.get(url).content.decode()
        assert VALUE not in page and row.sealed[secrets_at_rest.MARKER] not in page
    listing = admin_client.get(reverse("admin:orchestrator_namespacesecret_changelist")).content.decode()
    assert "set (******)" in listing
    assert VALUE not in database_text()  # the row (and every other) holds ciphertext only
    assert row.updated_by == admin_user.get_username()

    assert admin_client.post(change, {"value": ""}).status_code == 302  # empty: keep it
    assert render("{{ secret('HCLOUD') }}", "company") == VALUE
    assert admin_client.post(change, {"value": "replaced-value-9"}).status_code == 302
    assert render("{{ secret('HCLOUD') }}", "company") == "replaced-value-9"
    delete = reverse("admin:orchestrator_namespacesecret_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not NamespaceSecret.objects.exists()

    events = list(AuditEvent.objects.filter(verb__startswith="secret.").order_by("id"))
    assert [e.verb for e in events] == ["secret.created", "secret.replaced", "secret.deleted"]
    assert all(e.details == {"namespace": "company", "name": "HCLOUD"} for e in events)
    assert all(e.actor == admin_user and e.target_id == str(row.pk) for e in events)
    assert "replaced-value-9" not in database_text()


@pytest.mark.django_db
def test_the_admin_refuses_bad_names_and_a_new_secret_without_value(admin_client: Any) -> None:
    add = reverse("admin:orchestrator_namespacesecret_add")
    for data in (
        {"namespace": "company", "name": "HAS SPACE", "value": "x1234"},
        {"namespace": "Company!", "name": "OK", "value": "x1234"},
        {"namespace": "company", "name": "OK", "value": ""},
        {"namespace": "company", "name": "OK", "value": "x" * (secret_store.MAX_VALUE_CHARS + 1)},
    ):
        response = admin_client.post(add, data)
        assert response.status_code == 200 and "errornote" in response.content.decode(), data
    assert not NamespaceSecret.objects.exists() and not AuditEvent.objects.filter(verb__startswith="secret.")


# --- script tasks get only what their flow names -------------------------------------------------------


def test_a_script_sees_only_the_secrets_its_flow_puts_in_env(run_flow: Any, monkeypatch: Any) -> None:
    secret_store.set_secret("company", "GIVEN", "given-value-abc")
    secret_store.set_secret("company", "NOT_GIVEN", "hidden-value-def")
    monkeypatch.setenv("SECRET_ENV_ONLY", base64.b64encode(b"env-value-ghi").decode())

    execution = run_flow(shell_flow("company.team", "{MINE: \"{{ secret('GIVEN') }}\"}", "[env]"))

    assert execution.state == State.SUCCESS
    lines = logged(execution)
    assert "MINE=" + "*" * len("given-value-abc") in lines
    assert [line for line in lines if "***" in line] == ["MINE=" + "*" * len("given-value-abc")]
    text = "\n".join(lines)
    assert "hidden-value-def" not in text and "env-value-ghi" not in text and "SECRET_" not in text


# --- HashiCorp Vault (KV v2) ---------------------------------------------------------------------------

TOKEN = "vault-test-token"


@dataclass
class FakeVault:
    """KV v2 reads as Vault documents them: ``GET /v1/<mount>/data/<path>`` with ``X-Vault-Token``."""

    url: str = ""
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<mount>/<path>" → data
    deleted: set[str] = field(default_factory=set)  # latest version soft-deleted
    versions: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def put(self, mount: str, path: str, data: dict[str, Any]) -> None:
        key = f"{mount}/{path}"
        self.secrets[key] = data
        self.versions[key] = self.versions.get(key, 0) + 1
        self.deleted.discard(key)

    def answer(self, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        self.requests.append(path)
        if token != TOKEN:
            return 403, {"errors": ["permission denied"]}
        match = re.fullmatch(r"/v1/([^/]+)/data/(.+)", path.split("?")[0])
        key = f"{match.group(1)}/{match.group(2)}" if match else ""
        if key not in self.secrets:
            return 404, {"errors": []}
        deleted = key in self.deleted
        metadata = {
            "created_time": "2024-05-01T10:00:00.000000Z",
            "custom_metadata": None,
            "deletion_time": "2024-05-02T10:00:00.000000Z" if deleted else "",
            "destroyed": False,
            "version": self.versions[key],
        }
        body = {
            "request_id": "6f0b4a8e-0000-0000-0000-000000000000",
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": {"data": None if deleted else self.secrets[key], "metadata": metadata},
            "wrap_info": None,
            "warnings": None,
            "auth": None,
        }
        return (404 if deleted else 200), body


@pytest.fixture
def vault(settings: Any) -> Iterator[FakeVault]:
    fake = FakeVault()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status, body = fake.answer(self.path, self.headers.get("X-Vault-Token"))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.PORTICO_SECRET_BACKEND = "vault"
    settings.PORTICO_VAULT_ADDR = fake.url
    settings.PORTICO_VAULT_TOKEN = TOKEN
    settings.PORTICO_VAULT_MOUNT = "secret"
    settings.PORTICO_VAULT_PATH_PREFIX = "portico"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_vault_serves_namespace_secrets_with_inheritance(vault: FakeVault, settings: Any) -> None:
    vault.put("secret", "portico/company", {"SHARED": "vault-company", "DB": "vault-company-db"})
    vault.put("secret", "portico/company.team", {"DB": "vault-team-db"})
    secret_store.set_secret("company.team", "SHARED", "database-value")  # not read with Vault

    assert render("{{ secret('SHARED') }}", "company.team") == "vault-company"
    assert render("{{ secret('DB') }}", "company.team") == "vault-team-db"
    assert "/v1/secret/data/portico/company.team" in vault.requests

    vault.put("secret", "portico/company", {"SHARED": "vault-company-v2", "DB": "x"})  # a new version
    assert render("{{ secret('SHARED') }}", "company.team") == "vault-company-v2"
    vault.deleted.add("secret/portico/company.team")  # latest version deleted: the parent's applies
    assert render("{{ secret('DB') }}", "company.team") == "x"

    settings.PORTICO_VAULT_TOKEN = "wrong"
    denied = "Vault could not be read for namespace 'company.*permission denied"
    with pytest.raises(templating.TemplateError, match=denied):
        render("{{ secret('DB') }}", "company.team")
    settings.PORTICO_VAULT_ADDR = "http://127.0.0.1:9"  # nothing listens there
    unreachable = "Vault could not be read for namespace 'company.team'"
    with pytest.raises(templating.TemplateError, match=unreachable):
        render("{{ secret('DB') }}", "company.team")


def test_a_flow_reads_vault_through_the_worker(vault: FakeVault, run_flow: Any) -> None:
    vault.put("secret", "portico/company", {"VAULTED": "vault-value-xyz"})

    execution = run_flow(
        shell_flow(
            "company.team", "{V: \"{{ secret('VAULTED') }}\"}", "['test \"$V\" = vault-value-xyz && echo ok']"
        )
    )

    assert execution.state == State.SUCCESS and logged(execution) == ["ok"]


@pytest.mark.django_db
def test_the_admin_does_not_edit_the_store_while_vault_is_the_backend(
    admin_client: Any, vault: FakeVault
) -> None:
    assert admin_client.get(reverse("admin:orchestrator_namespacesecret_add")).status_code == 403
