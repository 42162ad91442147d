"""Secrets at rest: encrypted in every row, decrypted only to render a task, gone once nothing needs them.

The end-to-end tests grep the whole database (every table, every column, as text) for the plaintext
secret and its base64, on whichever database the run uses (SQLite or PostgreSQL via DATABASE_URL).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel, ConfigDict

from orchestrator.executor import control
from orchestrator.flowmodel import masking, secrets_at_rest, task_api
from orchestrator.flowmodel.secrets_at_rest import MARKER, Secret
from orchestrator.scheduler.beat_jobs import purge_storage
from orchestrator.state import secret_retention
from orchestrator.state.models import Execution, State, TaskRun
from tests.conftest import wait_for

SECRET = "hunter2-Zq9-plaintext"


def database_text() -> str:
    """Every row of every table, as text: what ``pg_dump`` or ``sqlite3 .dump`` would show."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (our tables)
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def assert_gone(secret: str = SECRET) -> None:
    text = database_text()
    assert secret not in text
    for encoded in (base64.b64encode(secret.encode()), base64.urlsafe_b64encode(secret.encode())):
        assert encoded.decode().rstrip("=") not in text


# --- the rule ------------------------------------------------------------------------------------------


def test_a_sealed_value_round_trips_and_shows_no_plaintext() -> None:
    sealed = secrets_at_rest.seal(SECRET)
    assert set(sealed) == {MARKER} and SECRET not in str(sealed)
    assert secrets_at_rest.reveal({"a": [sealed]}) == {"a": [SECRET]}
    assert secrets_at_rest.seal(sealed) is sealed  # idempotent: copying an execution keeps the token
    assert secrets_at_rest.masked({"a": sealed, "b": f"x{SECRET}"}, [SECRET]) == {
        "a": "******",
        "b": "x******",
    }
    assert secrets_at_rest.drop({"a": sealed}) == {"a": {MARKER: None}}
    assert secrets_at_rest.reveal({MARKER: None}) is None


def test_keys_rotate_the_first_encrypts_and_all_decrypt(settings: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTICO_SECRET_KEYS = old
    sealed = secrets_at_rest.seal(SECRET)
    settings.PORTICO_SECRET_KEYS = f"{new},{old}"
    assert secrets_at_rest.reveal(sealed) == SECRET
    rotated = secrets_at_rest.rotate(sealed)
    settings.PORTICO_SECRET_KEYS = new  # the old key is dropped
    assert secrets_at_rest.reveal(rotated) == SECRET
    with pytest.raises(secrets_at_rest.SecretKeyError):
        secrets_at_rest.reveal(sealed)


def test_outputs_holding_a_secret_or_marked_secret_are_sealed() -> None:
    stored = secrets_at_rest.seal_outputs(
        {"plain": "ok", "derived": f"token={SECRET}", "marked": Secret({"k": "v-123"}), "n": [1]}, [SECRET]
    )
    assert stored["plain"] == "ok" and stored["n"] == [1]
    assert secrets_at_rest.is_sealed(stored["derived"]) and secrets_at_rest.is_sealed(stored["marked"])
    assert secrets_at_rest.reveal(stored["marked"]) == {"k": "v-123"}
    assert masking.mask("v-123 leaked") == "****** leaked"  # a marked value is masked in logs too


# --- flows ---------------------------------------------------------------------------------------------


class _IssueProps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def _issue_token(props: _IssueProps, ctx: task_api.RunContext) -> dict[str, Any]:
    """A task marking one of its outputs secret, as a plugin creating a credential would."""
    return {"name": props.name, "token": Secret(f"{props.name}-{SECRET}")}


@pytest.fixture(autouse=True)
def issue_token_type() -> Iterator[None]:
    """The task type above, registered for each test here only (the registry is process-wide)."""
    task_api.register("tests.secrets.IssueToken", props=_IssueProps)(_issue_token)
    try:
        yield
    finally:
        task_api.unregister("tests.secrets.IssueToken")


FLOW = """
id: secret-flow
namespace: tests.secrets
inputs:
  - id: token
    type: SECRET
  - id: fail
    type: BOOL
    defaults: false
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "token={{ inputs.token }}"
  - id: issue
    type: tests.secrets.IssueToken
    name: api
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "using {{ inputs.token }} and {{ outputs.issue.token }} ({{ outputs.echo.value }})"
  - id: maybe
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ inputs.fail }}"
    errorMessage: "length {{ inputs.token | length }}"
outputs:
  - id: leaked
    type: STRING
    value: "{{ inputs.token }}"
"""


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_successful_execution_leaves_no_secret_in_the_database(run_flow: Any) -> None:
    execution = run_flow(FLOW, {"token": SECRET})

    assert execution.state == State.SUCCESS, execution.history
    messages = [line.message for line in execution.logs.all()]
    # Decrypted to render, masked when logged: one star per character, as Kestra masks log lines.
    assert len(messages) == 1 and set(messages[0].replace("using ", "").replace(" and ", "")) <= set("*() ")
    assert SECRET not in messages[0]
    runs = {run.task_id: run for run in execution.task_runs.all()}
    assert runs["echo"].outputs == {"value": {MARKER: None}}  # sealed, then dropped at the end
    assert runs["issue"].outputs == {"name": "api", "token": {MARKER: None}}
    assert execution.inputs["token"] == {MARKER: None} and execution.outputs == {"leaked": {MARKER: None}}
    assert_gone()
    assert_gone(f"api-{SECRET}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_execution_keeps_its_secret_encrypted_for_a_restart_then_drops_it(
    run_flow: Any, settings: Any
) -> None:
    settings.PORTICO_SECRET_RESTART_HOURS = 24
    execution = run_flow(FLOW, {"token": SECRET, "fail": "true"})
    assert execution.state == State.FAILED
    assert_gone()  # kept, but only as ciphertext
    assert secrets_at_rest.reveal(execution.inputs["token"]) == SECRET

    assert control.restart(execution.pk)  # within the window: the restarted task still reads it
    execution = wait_for(execution)
    assert execution.state == State.FAILED
    assert TaskRun.objects.get(execution=execution, task_id="maybe").error == f"length {len(SECRET)}"

    assert secret_retention.drop_expired() == 0  # not yet
    Execution.objects.filter(pk=execution.pk).update(ended=timezone.now() - timedelta(hours=25))
    result = purge_storage.apply().get()  # the daily beat job
    assert result["secrets_dropped"] == 1
    execution.refresh_from_db()
    assert execution.inputs["token"] == {MARKER: None}
    assert not TaskRun.objects.filter(execution=execution, outputs__icontains="gAAAA").exists()
    assert_gone()
    assert secret_retention.drop_expired() == 0  # dropped once


@pytest.mark.django_db
def test_the_admin_shows_executions_and_task_runs_masked(admin_client: Any) -> None:
    flow_source = FLOW
    execution = Execution.objects.create(
        namespace="tests.secrets",
        flow_id="secret-flow",
        flow_revision="r1",
        flow_source=flow_source,
        inputs={"token": SECRET, "fail": False},
        outputs={"note": f"was {SECRET}"},
        state=State.FAILED,
    )
    run = TaskRun.objects.create(
        execution=execution, task_id="echo", state=State.SUCCESS, outputs={"value": f"token={SECRET}"}
    )
    run.refresh_from_db()
    execution.refresh_from_db()
    assert secrets_at_rest.is_sealed(execution.inputs["token"])  # sealed before the first write
    assert secrets_at_rest.is_sealed(execution.outputs["note"])
    for url in (
        reverse("admin:orchestrator_execution_changelist"),
        reverse("admin:orchestrator_execution_change", args=[execution.pk]),
        reverse("admin:orchestrator_taskrun_changelist"),
        reverse("admin:orchestrator_taskrun_change", args=[run.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert SECRET not in html, url
        assert "gAAAA" not in html, url  # not even the ciphertext
    html = admin_client.get(reverse("admin:orchestrator_execution_change", args=[execution.pk])).content
    assert b"******" in html


@pytest.mark.django_db
def test_rotate_secrets_re_encrypts_every_stored_secret_with_the_new_key(settings: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTICO_SECRET_KEYS = old
    execution = Execution.objects.create(
        namespace="tests.secrets",
        flow_id="secret-flow",
        flow_revision="r1",
        flow_source=FLOW,
        inputs={"token": SECRET},
        state=State.FAILED,
    )
    run = TaskRun.objects.create(
        execution=execution, task_id="issue", outputs={"t": secrets_at_rest.seal("x-1")}
    )
    settings.PORTICO_SECRET_KEYS = f"{new},{old}"
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "re-encrypted 2 value(s)" in out.getvalue()
    settings.PORTICO_SECRET_KEYS = new
    execution.refresh_from_db()
    run.refresh_from_db()
    assert secrets_at_rest.reveal(execution.inputs["token"]) == SECRET
    assert secrets_at_rest.reveal(run.outputs) == {"t": "x-1"}


PAUSE_FLOW = """
id: secret-pause
namespace: tests.secrets
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: password
        type: SECRET
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.pause.onResume.password | length }}"
"""


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_secret_given_on_resume_is_stored_encrypted_and_dropped(run_flow: Any) -> None:
    execution = run_flow(PAUSE_FLOW)
    assert execution.state == State.PAUSED
    assert control.resume(execution.pk, inputs={"password": SECRET})
    execution = wait_for(execution)
    assert execution.state == State.SUCCESS, execution.history
    runs = {run.task_id: run for run in execution.task_runs.all()}
    assert runs["use"].outputs == {"value": str(len(SECRET))}  # decrypted for the template
    assert runs["pause"].outputs == {"onResume": {"password": {MARKER: None}}}
    assert_gone()
