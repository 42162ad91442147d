"""The execution page: task tree, timeline, logs, outputs and operator actions, from real runs.

Every execution here runs on the real Celery worker (``celery_worker``) and is linked to a request the
way an approval links it (label ``portico.request``), so the page's permission rules see an owner.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from orchestrator.executor import walker
from orchestrator.flowmodel.input_types import resolve_inputs, secret_ids
from orchestrator.flowmodel.spec import parse_flow
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from portal.audit.models import AuditEvent
from portal.requests import links
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import REQUEST_LABEL
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SECRET = "s3cr3t-value"

TREE_FLOW = """\
id: tree
namespace: portico.tests
inputs:
  - id: token
    type: SECRET
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: each
        type: io.kestra.plugin.core.flow.ForEach
        values: ["alpha", "beta"]
        tasks:
          - id: say
            type: io.kestra.plugin.core.log.Log
            message: "item {{ taskrun.value }}"
  - id: careful
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: "careful now"
  - id: chatty
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: "debug details"
  - id: leaky
    type: io.kestra.plugin.core.log.Log
    message: "using {{ inputs.token }}"
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "token={{ inputs.token }}"
"""

GATE_FLOW = """\
id: gate
namespace: portico.tests
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
        description: Why it may go on
      - id: size
        type: SELECT
        values: [small, large]
        defaults: small
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "resumed because {{ outputs.wait.onResume.reason }} ({{ outputs.wait.onResume.size }})"
"""

SLOW_FLOW = """\
id: slow
namespace: portico.tests
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""

FAILING_FLOW = """\
id: failing
namespace: portico.tests
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: kept
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke"
"""


def _wait_until(check: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def _run_request(
    text: str, requester: Any, cost_center: Any, catalog_flow: Any, raw: dict | None = None
) -> tuple[ResourceRequest, Execution]:
    """An approved request for ``text`` and its execution, started like ``portal.approvals`` starts one."""
    flow = parse_flow(text, "test.yml")
    resolved = resolve_inputs(flow, raw or {})
    secrets = secret_ids(flow)
    request = ResourceRequest.objects.create(
        requester=requester,
        catalog_flow=catalog_flow,
        flow_revision=flow.revision,
        flow_source=text,
        inputs={k: v for k, v in resolved.items() if k not in secrets},
        secret_inputs={k: v for k, v in resolved.items() if k in secrets},
        cost_center=cost_center,
        state=RequestState.APPROVED,
    )
    with transaction.atomic():  # the link row's foreign key is checked at commit
        execution = walker.start_execution(
            flow,
            resolved,
            labels={REQUEST_LABEL: str(request.pk)},
            execution_id=links.new_execution_id(request),
        )
    ResourceRequest.objects.filter(pk=request.pk).update(execution=execution)
    return request, wait_for(execution)


def _verbs(request: ResourceRequest) -> list[str]:
    events = AuditEvent.objects.filter(target_id=str(request.pk)).order_by("id")
    return list(events.values_list("verb", flat=True))


def _url(name: str, execution: Execution) -> str:
    return reverse(f"executions:{name}", args=[execution.pk])


def _actions(html: str) -> set[str]:
    return set(re.findall(r'data-action="(\w+)"', html))


@pytest.fixture
def tree_run(celery_worker: Any, catalog: Any, alice: Any, plat: Any) -> tuple[ResourceRequest, Execution]:
    request, execution = _run_request(TREE_FLOW, alice, plat, catalog["quick"], {"token": SECRET})
    assert execution.state == State.SUCCESS
    return request, execution


def test_it_renders_the_task_tree_with_iterations_and_a_timeline(
    client: Any, tree_run: Any, charlie: Any
) -> None:
    _, execution = tree_run
    client.force_login(charlie)
    html = client.get(_url("detail", execution)).content.decode()

    order = [m.group(1) for m in re.finditer(r'data-(?:task|iteration)="([^"]+)"', html)]
    assert order[:7] == ["outer", "each", "alpha", "say", "beta", "say", "careful"]
    header = r'calc\((\d) \* 18px\)"><span class="pill">value</span> <span class="mono">(\w+)'
    depth = {m.group(2): int(m.group(1)) for m in re.finditer(header, html)}
    assert depth == {"alpha": 2, "beta": 2}  # ForEach iterations nest under "each" (depth 1)
    assert "Sequential" in html and "ForEach" in html  # task types shown

    bars = [(float(a), float(b)) for a, b in re.findall(r'style="left: ([\d.]+)%; width: ([\d.]+)%"', html)]
    runs = TaskRun.objects.filter(execution=execution).count()
    assert len(bars) == runs + 2  # one per task run plus one per iteration
    assert all(0 <= left <= 100 and 0 < width and left + width <= 100.01 for left, width in bars)
    assert "hx-trigger" not in html  # nothing polls a finished execution


def test_it_masks_secrets_in_outputs_and_logs(client: Any, tree_run: Any, charlie: Any, alice: Any) -> None:
    request, execution = tree_run
    # An output holding a secret is stored encrypted, and dropped once the execution succeeded.
    assert TaskRun.objects.get(execution=execution, task_id="echo").outputs["value"] == {"$secret": None}
    for user in (charlie, alice):
        client.force_login(user)
        for url in (
            _url("detail", execution),
            _url("live", execution),
            _url("logs", execution),
            reverse("requests:live", args=[request.pk]),
        ):
            html = client.get(url).content.decode()
            assert SECRET not in html, url
    html = client.get(_url("detail", execution)).content.decode()
    assert "******" in html and "using ******" in html


def test_it_filters_logs_by_level_and_returns_only_lines_after_the_given_id(
    client: Any, tree_run: Any, charlie: Any
) -> None:
    _, execution = tree_run
    client.force_login(charlie)
    lines = list(LogLine.objects.filter(execution=execution).order_by("id"))
    assert {line.level for line in lines} >= {"INFO", "WARN", "DEBUG"}

    everything = client.get(_url("logs", execution)).content.decode()
    assert "debug details" in everything and "careful now" in everything and "item alpha" in everything

    warn = client.get(_url("logs", execution), {"level": "WARN"}).content.decode()
    assert "careful now" in warn and "debug details" not in warn and "item alpha" not in warn
    info = client.get(_url("logs", execution), {"level": "INFO"}).content.decode()
    assert "item alpha" in info and "careful now" in info and "debug details" not in info

    middle = lines[len(lines) // 2]
    newer = client.get(_url("logs", execution), {"after": middle.id}).content.decode()
    ids = [int(i) for i in re.findall(r'class="log [^"]*" data-id="(\d+)"', newer)]
    assert ids == [line.id for line in lines if line.id > middle.id]
    assert 'id="logs"' not in newer  # only the lines and the poller, appended by htmx
    assert 'id="log-empty" hx-swap-oob="delete"' in newer  # new lines remove the "no lines yet" note
    assert 'id="log-empty"' not in everything
    assert f'data-after="{lines[-1].id}"' in newer and "hx-trigger" not in newer  # terminal: no more polling

    page = client.get(_url("detail", execution), {"level": "ERROR"}).content.decode()
    assert "No log lines at ERROR or above yet." in page


def test_it_shows_each_user_only_the_buttons_they_may_use(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, bob: Any, charlie: Any, mallory: Any, plat: Any
) -> None:
    _, paused = _run_request(GATE_FLOW, alice, plat, catalog["quick"])
    _, failed = _run_request(FAILING_FLOW, alice, plat, catalog["quick"])
    assert (paused.state, failed.state) == (State.PAUSED, State.FAILED)

    client.force_login(alice)  # the requester: may stop what she asked for, nothing else
    assert _actions(client.get(_url("detail", paused)).content.decode()) == {"kill"}
    assert _actions(client.get(_url("detail", failed)).content.decode()) == set()
    client.force_login(charlie)  # an approver
    assert _actions(client.get(_url("detail", paused)).content.decode()) == {"kill", "resume"}
    assert _actions(client.get(_url("detail", failed)).content.decode()) == {"restart", "replay"}
    client.force_login(mallory)  # someone else's execution does not exist for her
    assert client.get(_url("detail", paused)).status_code == 404
    assert client.get(_url("logs", paused)).status_code == 404


def test_it_refuses_actions_on_the_server_for_users_without_the_permission(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, bob: Any, mallory: Any, plat: Any
) -> None:
    _, paused = _run_request(GATE_FLOW, alice, plat, catalog["quick"])
    _, failed = _run_request(FAILING_FLOW, alice, plat, catalog["quick"])
    _, own = _run_request(GATE_FLOW, bob, plat, catalog["quick"])

    client.force_login(alice)
    assert client.post(_url("resume", paused), {"reason": "mine"}).status_code == 403
    assert client.post(_url("restart", failed)).status_code == 403
    assert client.post(_url("replay", failed), {"from_task": "boom"}).status_code == 403
    client.force_login(bob)  # an approver, but the pause gates his own request
    assert "resume" not in _actions(client.get(_url("detail", own)).content.decode())
    assert client.post(_url("resume", own), {"reason": "self"}).status_code == 403
    client.force_login(mallory)
    for name in ("kill", "resume", "restart", "replay"):
        assert client.post(_url(name, paused)).status_code == 404
    client.logout()
    assert client.post(_url("kill", paused)).status_code == 302  # to the login page

    for execution in (paused, own):
        execution.refresh_from_db()
        assert execution.state == State.PAUSED
    assert Execution.objects.filter(original=failed).count() == 0
    failed.refresh_from_db()
    assert failed.state == State.FAILED
    commands = ["execution.resume_requested", "execution.restart_requested"]
    assert not AuditEvent.objects.filter(verb__in=commands).exists()


def test_it_requires_csrf_on_actions(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, plat: Any
) -> None:
    from django.test import Client

    _, paused = _run_request(GATE_FLOW, alice, plat, catalog["quick"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(_url("kill", paused)).status_code == 403
    paused.refresh_from_db()
    assert paused.state == State.PAUSED


def test_it_resumes_a_paused_execution_with_the_on_resume_form(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, charlie: Any, plat: Any
) -> None:
    request, execution = _run_request(GATE_FLOW, alice, plat, catalog["quick"])
    request.refresh_from_db()
    assert request.state == RequestState.PAUSED
    client.force_login(alice)
    partial = client.get(reverse("requests:live", args=[request.pk])).content.decode()
    assert "Awaiting resume" in partial and "hx-trigger" in partial

    client.force_login(charlie)
    page = client.get(_url("detail", execution)).content.decode()
    form = page[page.index('id="resume-form"') : page.index("</form>", page.index('id="resume-form"'))]
    assert 'name="reason"' in form and "required" in form  # widgets from the request form's builder
    assert '<select name="size"' in form and '<option value="large">' in form

    bad = client.post(_url("resume", execution), {"reason": "", "size": "huge"})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    execution.refresh_from_db()
    assert execution.state == State.PAUSED

    response = client.post(_url("resume", execution), {"reason": "capacity ok", "size": "large"})
    assert response.status_code == 302 and response["Location"] == _url("detail", execution)
    wait_for(execution)
    assert execution.state == State.SUCCESS
    assert LogLine.objects.filter(execution=execution, message="resumed because capacity ok (large)").exists()
    request = _wait_until(
        lambda: ResourceRequest.objects.filter(pk=request.pk, state=RequestState.SUCCEEDED).first(),
        what="request SUCCEEDED",
    )
    verbs = _verbs(request)
    # The system's fact and the operator's command are written in the same transaction.
    assert verbs == [
        "execution.started",
        "execution.paused",
        "execution.resumed",
        "execution.resume_requested",
        "execution.finished",
    ]
    resume_event = AuditEvent.objects.get(verb="execution.resume_requested")
    assert resume_event.actor == charlie and resume_event.details["inputs"] == ["reason", "size"]


def test_it_lets_the_requester_kill_their_running_execution(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, plat: Any
) -> None:
    flow = parse_flow(SLOW_FLOW, "test.yml")
    request = ResourceRequest.objects.create(
        requester=alice,
        catalog_flow=catalog["quick"],
        flow_revision=flow.revision,
        flow_source=SLOW_FLOW,
        cost_center=plat,
        state=RequestState.APPROVED,
    )
    with transaction.atomic():
        execution = walker.start_execution(
            flow, {}, labels={REQUEST_LABEL: str(request.pk)}, execution_id=links.new_execution_id(request)
        )
    nap = TaskRun.objects.filter(execution=execution, task_id="nap", state=State.RUNNING)
    _wait_until(nap.exists, what="nap running")
    client.force_login(alice)
    html = client.get(_url("live", execution)).content.decode()
    assert "kill" in _actions(html) and "hx-trigger" in html  # still polling while it runs

    started = time.monotonic()
    assert client.post(_url("kill", execution), {"confirm": "yes"}).status_code == 302
    wait_for(execution, timeout=15)
    assert execution.state == State.KILLED and time.monotonic() - started < 15
    _wait_until(
        lambda: ResourceRequest.objects.filter(pk=request.pk, state=RequestState.CANCELLED).exists(),
        what="request CANCELLED",
    )
    event = AuditEvent.objects.get(verb="execution.kill_requested")
    assert event.actor == alice and event.details["execution"] == str(execution.pk)


def test_it_restarts_and_replays_a_failed_execution_for_an_approver(
    client: Any, celery_worker: Any, catalog: Any, alice: Any, charlie: Any, plat: Any
) -> None:
    request, execution = _run_request(FAILING_FLOW, alice, plat, catalog["quick"])
    _wait_until(
        lambda: ResourceRequest.objects.filter(pk=request.pk, state=RequestState.FAILED).exists(),
        what="request FAILED",
    )
    client.force_login(charlie)
    # Permitted but no longer applicable (e.g. someone was quicker): a no-op with a message, not a 403.
    for name in ("kill", "resume"):
        assert client.post(_url(name, execution)).status_code == 302
    execution.refresh_from_db()
    assert execution.state == State.FAILED
    commands = ["execution.kill_requested", "execution.resume_requested"]
    assert not AuditEvent.objects.filter(verb__in=commands).exists()

    assert client.post(_url("restart", execution)).status_code == 302
    _wait_until(
        lambda: (
            TaskRun.objects.filter(execution=execution, task_id="boom", attempts=2).exists()
            and Execution.objects.get(pk=execution.pk).state == State.FAILED
        ),
        what="second attempt",
    )
    page = client.get(_url("detail", execution)).content.decode()
    assert 'id="attempts-' in page  # the boom row lists its two attempts
    assert page.count("gantt-bar attempt-bar") == 2  # and draws one timeline bar per attempt
    assert TaskRun.objects.get(execution=execution, task_id="first").attempts == 1  # kept, not re-run

    response = client.post(_url("replay", execution), {"from_task": "boom"})
    replay = Execution.objects.get(original=execution)
    assert response["Location"] == _url("detail", replay)
    wait_for(replay)
    assert replay.state == State.FAILED
    assert TaskRun.objects.get(execution=replay, task_id="first").outputs == {"value": "kept"}
    assert "Replay of" in client.get(_url("detail", replay)).content.decode()

    verbs = _verbs(request)
    assert "execution.restart_requested" in verbs and "execution.replay_requested" in verbs
    assert verbs.count("execution.reopened") == 2  # restart and replay each ran the request again


def test_it_redirects_an_expired_htmx_poll_to_the_login_page(client: Any, tree_run: Any) -> None:
    request, execution = tree_run
    page = f"/requests/{request.pk}/"
    response = client.get(
        reverse("requests:live", args=[request.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('account_login')}?next=%2Frequests%2F{request.pk}%2F"
    assert response.content == b""
    plain = client.get(reverse("requests:live", args=[request.pk]))
    assert plain.status_code == 302 and "HX-Redirect" not in plain
    poll = client.get(_url("logs", execution), {"after": 0}, HTTP_HX_REQUEST="true")
    assert poll["HX-Redirect"].startswith(reverse("account_login"))


def test_it_links_the_execution_page_from_the_request_page(client: Any, tree_run: Any, alice: Any) -> None:
    request, execution = tree_run
    client.force_login(alice)
    html = client.get(reverse("requests:detail", args=[request.pk])).content.decode()
    assert _url("detail", execution) in html
    assert 'data-task="say"' in html and "gantt-bar" in html  # the richer tree is embedded


def test_it_lists_executions_for_operators_only(client: Any, tree_run: Any, alice: Any, charlie: Any) -> None:
    request, execution = tree_run
    client.force_login(charlie)
    html = client.get(reverse("executions:list")).content.decode()
    assert _url("detail", execution) in html and f"request #{request.pk}" in html
    assert 'href="/executions/"' in html  # in the top bar
    failed_only = client.get(reverse("executions:list"), {"state": "FAILED"}).content.decode()
    assert _url("detail", execution) not in failed_only
    client.force_login(alice)
    assert client.get(reverse("executions:list")).status_code == 403
    assert 'href="/executions/"' not in client.get(reverse("requests:list")).content.decode()


CHILD_FLOW = """\
id: child
namespace: portico.tests
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello from the child"
"""

PARENT_FLOW = """\
id: parent
namespace: portico.tests
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: portico.tests
    flowId: child
    wait: true
"""


@pytest.fixture
def child_flow_lookup() -> Any:
    from orchestrator.flowmodel import flow_repository

    child = parse_flow(CHILD_FLOW, "child.yml")

    def lookup(namespace: str, flow_id: str) -> Any:
        return child if (namespace, flow_id) == ("portico.tests", "child") else None

    flow_repository.register(lookup)
    yield
    flow_repository.unregister(lookup)


def test_it_shows_a_subflow_execution_to_whoever_may_see_its_parent(
    client: Any, celery_worker: Any, child_flow_lookup: Any, catalog: Any, alice: Any, mallory: Any, plat: Any
) -> None:
    _, parent = _run_request(PARENT_FLOW, alice, plat, catalog["quick"])
    assert parent.state == State.SUCCESS
    child = Execution.objects.get(parent=parent)
    assert REQUEST_LABEL not in child.labels  # no inherited labels: found through the parent

    client.force_login(alice)
    assert _url("detail", child) in client.get(_url("detail", parent)).content.decode()
    page = client.get(_url("detail", child)).content.decode()
    assert "hello from the child" in page and _url("detail", parent) in page
    client.force_login(mallory)
    assert client.get(_url("detail", child)).status_code == 404
