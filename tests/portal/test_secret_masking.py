"""A SECRET input through the whole portal: encrypted while the request waits, never shown on a page,
in an email, the audit log or the admin, and gone from the database once the request is over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from orchestrator.flowmodel import secrets_at_rest
from orchestrator.state.models import State
from portal.approvals import services as approvals
from portal.audit.models import AuditEvent
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.notifications.services import render_email
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import submit_request
from tests.conftest import wait_for
from tests.orchestrator.test_secrets_at_rest import assert_gone

SECRET = "Pa55-word-portal-9x"

SECRET_FLOW = """\
id: secret-echo
namespace: portico.tests
description: Uses a SECRET input in a task output, a log line and a flow output.
inputs:
  - id: name
    type: STRING
    defaults: web
  - id: token
    type: SECRET
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "token={{ inputs.token }}"
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "using {{ inputs.token }}"
outputs:
  - id: leaked
    type: STRING
    value: "{{ outputs.echo.value }}"
"""


@pytest.fixture
def secret_flow(db: Any, flows_dir: Path) -> CatalogFlow:
    (flows_dir / "secret-echo.yml").write_text(SECRET_FLOW)
    report = sync_flows(flows_dir)
    assert report.ok, report.errors
    return CatalogFlow.objects.get(flow_id="secret-echo")


def _submit(flow: CatalogFlow, requester: Any, cost_center: Any) -> ResourceRequest:
    return submit_request(
        requester=requester, catalog_flow=flow, data={"token": SECRET}, cost_center=cost_center
    )


def _pages_hide_it(client: Any, user: Any, urls: list[str]) -> None:
    client.force_login(user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode()
        assert SECRET not in body, url
        assert "gAAAA" not in body, url  # not even the ciphertext


def _emails_hide_it(request: ResourceRequest, events: tuple[str, ...]) -> None:
    for event in events:
        subject, body = render_email(event, request)
        assert SECRET not in subject + body, event


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_secret_is_encrypted_while_pending_masked_everywhere_and_gone_when_done(
    celery_worker: Any,
    client: Any,
    secret_flow: CatalogFlow,
    alice: Any,
    bob: Any,
    plat: Any,
    admin_user: Any,
) -> None:
    request = _submit(secret_flow, alice, plat)
    assert secrets_at_rest.is_sealed(request.secret_inputs["token"])
    assert secrets_at_rest.reveal(request.secret_inputs) == {"token": SECRET}
    assert_gone(SECRET)  # pending: only ciphertext in the database
    _pages_hide_it(client, alice, [reverse("requests:detail", args=[request.pk]), reverse("requests:list")])
    _pages_hide_it(client, bob, [reverse("approvals:queue")])
    admin_pages = [
        reverse("admin:requests_resourcerequest_changelist"),
        reverse("admin:requests_resourcerequest_change", args=[request.pk]),
        reverse("admin:audit_auditevent_changelist"),
        reverse("audit:list"),
        reverse("audit:export"),
    ]
    _pages_hide_it(client, admin_user, admin_pages)
    _emails_hide_it(request, ("requested",))

    request = approvals.approve(request.pk, acting_user=bob)
    execution = wait_for(request.execution)
    assert execution.state == State.SUCCESS, execution.history
    request.refresh_from_db()
    assert request.state == RequestState.SUCCEEDED and request.secret_inputs == {}
    assert all(set(line.message.removeprefix("using ")) == {"*"} for line in execution.logs.all())
    execution_pages = [
        reverse("executions:detail", args=[execution.pk]),
        reverse("executions:live", args=[execution.pk]),
        reverse("executions:logs", args=[execution.pk]),
        reverse("requests:live", args=[request.pk]),
        reverse("requests:detail", args=[request.pk]),
    ]
    _pages_hide_it(client, alice, execution_pages)
    _pages_hide_it(
        client,
        admin_user,
        [
            *admin_pages,
            reverse("admin:orchestrator_execution_change", args=[execution.pk]),
            *(reverse("admin:orchestrator_taskrun_change", args=[r.pk]) for r in execution.task_runs.all()),
            reverse("admin:orchestrator_logline_changelist"),
        ],
    )
    _emails_hide_it(request, ("decided", "finished"))
    assert not any(SECRET in str(event.details) for event in AuditEvent.objects.all())
    assert_gone(SECRET)  # every table, every column


@pytest.mark.django_db
def test_a_rejected_request_drops_its_secret(
    secret_flow: CatalogFlow, alice: Any, bob: Any, plat: Any
) -> None:
    request = _submit(secret_flow, alice, plat)
    request = approvals.reject(request.pk, acting_user=bob, comment="no")
    assert request.secret_inputs == {}
    _emails_hide_it(request, ("decided",))
    assert_gone(SECRET)
