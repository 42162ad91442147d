"""Deliberate actions and live pages (issue 13): a decision only from its button, a question naming what
will be lost before a destroy or a kill, and request/resource/queue pages that follow changes by polling
one permission-checked fragment until nothing can change any more.

The browser side (Enter in the comment, the requester's screen following the approver's click) is in
``tests/e2e/test_live_request.py``.
"""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from orchestrator.state.models import Execution, State, TaskRun
from portal.approvals import services as approvals
from portal.approvals.models import Decision
from portal.audit.models import AuditEvent
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests.models import RequestExecution, RequestState, ResourceRequest
from portal.requests.services import submit_request
from portal.resources.models import RequestEstimate, Resource, ResourceState

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db

BOX_FLOW = """\
id: box
namespace: portico.tests
labels:
  portico.resource: test-box
  portico.actions.destroy: box-destroy
inputs:
  - id: name
    type: STRING
tasks:
  - id: make
    type: io.kestra.plugin.core.log.Log
    message: "box {{ inputs.name }}"
  - id: settle
    type: io.kestra.plugin.core.log.Log
    message: "settled"
"""

BOX_DESTROY_FLOW = """\
id: box-destroy
namespace: portico.tests
labels:
  portico.resource-action: destroy
inputs:
  - id: resource_id
    type: INT
tasks:
  - id: destroy
    type: io.kestra.plugin.core.log.Log
    message: "destroy {{ inputs.resource_id }}"
"""


class _Forms(HTMLParser):
    """Each form's action, its controls in tree order (tag, attributes), and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self._open = {"action": attributes.get("action"), "controls": [], "attrs": attributes}
            self.forms.append(self._open)
        elif self._open is not None and tag in ("button", "input", "textarea", "select"):
            self._open["controls"].append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _decide_forms(html: str, pk: int) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    action = reverse("approvals:decide", args=[pk])
    return [form for form in parser.forms if form["action"] == action]


@pytest.fixture
def alices_request(catalog: Any, alice: Any, plat: Any) -> ResourceRequest:
    return submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )


@pytest.fixture
def boxes(db: Any, tmp_path: Path) -> dict[str, CatalogFlow]:
    directory = tmp_path / "box-flows"
    directory.mkdir()
    (directory / "box.yml").write_text(BOX_FLOW)
    (directory / "box-destroy.yml").write_text(BOX_DESTROY_FLOW)
    assert sync_flows(directory).ok
    return {f.flow_id: f for f in CatalogFlow.objects.filter(namespace="portico.tests")}


def _made(
    boxes: dict[str, CatalogFlow], owner: Any, cost_center: Any, state: str
) -> tuple[ResourceRequest, Execution]:
    """A request for a box with its execution in ``state`` (no worker: the rows only)."""
    box = boxes["box"]
    execution = Execution.objects.create(
        namespace=box.namespace,
        flow_id=box.flow_id,
        flow_revision=box.revision,
        flow_source=box.source,
        inputs={"name": "box-1"},
        state=state,
    )
    request = ResourceRequest.objects.create(
        requester=owner,
        catalog_flow=box,
        flow_revision=box.revision,
        flow_source=box.source,
        inputs={"name": "box-1"},
        cost_center=cost_center,
        state=RequestState.RUNNING if state == State.RUNNING else RequestState.SUCCEEDED,
        execution=execution,
    )
    RequestExecution.objects.create(request=request, execution=execution)
    return request, execution


def _resource(boxes: dict[str, CatalogFlow], owner: Any, cost_center: Any, **fields: Any) -> Resource:
    request, _ = _made(boxes, owner, cost_center, State.SUCCESS)
    values = {
        "kind": "test-box",
        "name": "box-1",
        "ipv4": "203.0.113.7",
        "monthly_cost": Decimal("4.51"),
        "state": ResourceState.RUNNING,
        **fields,
    }
    return Resource.objects.create(
        owner=owner,
        cost_center=cost_center,
        request=request,
        namespace="portico.tests",
        actions={"destroy": "box-destroy"},
        **values,
    )


# -- decisions: only from their buttons, said to be final -----------------------------------------------


@pytest.mark.parametrize("posted", [{"comment": "looks fine"}, {"decision": "yes", "comment": "ok"}, {}])
def test_it_decides_nothing_without_the_pressed_buttons_decision(
    client: Any, bob: Any, alices_request: ResourceRequest, posted: dict[str, str]
) -> None:
    client.force_login(bob)

    response = client.post(reverse("approvals:decide", args=[alices_request.pk]), posted, follow=True)

    page = response.content.decode()
    assert f"Nothing was decided on request #{alices_request.pk}" in page
    assert "press Approve or Reject" in page
    alices_request.refresh_from_db()
    assert alices_request.state == RequestState.PENDING_APPROVAL
    assert not Decision.objects.filter(request=alices_request).exists()
    assert not AuditEvent.objects.filter(verb__in=["approved", "rejected"]).exists()


@pytest.mark.parametrize("page", ["approvals:queue", "requests:detail"])
def test_its_decision_forms_have_no_default_button_and_say_a_decision_is_final(
    client: Any, bob: Any, alices_request: ResourceRequest, page: str
) -> None:
    client.force_login(bob)
    url = reverse(page) if page == "approvals:queue" else reverse(page, args=[alices_request.pk])

    html = client.get(url).content.decode()

    [form] = _decide_forms(html, alices_request.pk)
    buttons = [attrs for tag, attrs in form["controls"] if tag == "button"]
    # HTML's implicit submission (Enter in a field) clicks the form's first submit button: a disabled
    # one submits nothing.
    assert buttons[0].get("type") == "submit" and "disabled" in buttons[0]
    assert [(b.get("name"), b.get("value")) for b in buttons[1:]] == [
        ("decision", "approve"),
        ("decision", "reject"),
    ]
    assert all("disabled" not in b for b in buttons[1:])
    assert ("textarea", "comment") in [(tag, attrs.get("name")) for tag, attrs in form["controls"]]
    described = {b["aria-describedby"] for b in buttons[1:]}
    assert len(described) == 1 and f'id="{described.pop()}"' in html
    assert "A decision is final: it cannot be undone." in html
    assert "hx-preserve" in form["attrs"]  # the page's poll keeps a comment being typed


# -- destroy: a page naming what will be lost, then the request -----------------------------------------


def test_destroy_first_names_what_will_be_lost_and_requests_nothing(
    client: Any, boxes: Any, alice: Any, plat: Any
) -> None:
    resource = _resource(boxes, alice, plat)
    client.force_login(alice)
    detail = reverse("resources:detail", args=[resource.pk])
    before = ResourceRequest.objects.count()

    page = client.post(reverse("resources:action", args=[resource.pk, "destroy"]), {"next": detail})

    html = page.content.decode()
    assert page.status_code == 200 and "Destroy box-1?" in html
    assert "203.0.113.7" in html and "€4.51" in html and "cannot be undone" in html
    assert 'name="confirm" value="yes"' in html and f'href="{detail}"' in html  # cancel goes back
    assert ResourceRequest.objects.count() == before


def test_destroy_is_requested_by_the_confirmation(client: Any, boxes: Any, alice: Any, plat: Any) -> None:
    resource = _resource(boxes, alice, plat)
    client.force_login(alice)

    response = client.post(reverse("resources:action", args=[resource.pk, "destroy"]), {"confirm": "yes"})

    destroy = ResourceRequest.objects.get(catalog_flow__flow_id="box-destroy")
    assert response.status_code == 302 and response["Location"] == reverse(
        "requests:detail", args=[destroy.pk]
    )
    assert destroy.inputs == {"resource_id": resource.pk} and destroy.resource_action.resource == resource


def test_destroy_asks_nothing_when_it_would_be_refused(
    client: Any, boxes: Any, alice: Any, plat: Any
) -> None:
    gone = _resource(boxes, alice, plat, state=ResourceState.DESTROYED)
    client.force_login(alice)
    detail = reverse("resources:detail", args=[gone.pk])

    response = client.post(
        reverse("resources:action", args=[gone.pk, "destroy"]), {"next": detail}, follow=True
    )

    assert response.redirect_chain == [(detail, 302)]
    assert "is destroyed" in response.content.decode() and "Destroy box-1?" not in response.content.decode()


def test_destroy_confirmation_is_a_404_for_someone_elses_resource(
    client: Any, boxes: Any, alice: Any, bob: Any, plat: Any
) -> None:
    resource = _resource(boxes, bob, plat)  # bob's; alice is a requester on the same cost center
    client.force_login(alice)

    response = client.post(reverse("resources:action", args=[resource.pk, "destroy"]))

    assert response.status_code == 404 and "203.0.113.7" not in response.content.decode()


# -- kill: a page naming the flow and the tasks it stops, then the kill ---------------------------------


def test_kill_first_names_the_flow_and_its_running_tasks(
    client: Any, boxes: Any, alice: Any, plat: Any
) -> None:
    request, execution = _made(boxes, alice, plat, State.RUNNING)
    TaskRun.objects.create(execution=execution, task_id="make", state=State.SUCCESS)
    TaskRun.objects.create(execution=execution, task_id="settle", state=State.RUNNING)
    client.force_login(alice)

    page = client.post(reverse("executions:kill", args=[execution.pk]))

    html = page.content.decode()
    assert page.status_code == 200 and "portico.tests.box" in html and f"request #{request.pk}" in html
    assert ">settle</span>" in html and ">make</span>" not in html  # only what is still running
    assert 'name="confirm" value="yes"' in html and "cannot be undone" in html
    execution.refresh_from_db()
    assert execution.state == State.RUNNING
    assert not AuditEvent.objects.filter(verb__startswith="execution.kill").exists()


def test_kill_happens_on_the_confirmation(client: Any, boxes: Any, alice: Any, plat: Any) -> None:
    _, execution = _made(boxes, alice, plat, State.RUNNING)
    client.force_login(alice)

    response = client.post(reverse("executions:kill", args=[execution.pk]), {"confirm": "yes"})

    assert response.status_code == 302
    execution.refresh_from_db()
    assert execution.state in (State.KILLING, State.KILLED)


def test_kill_asks_nothing_once_the_execution_ended(client: Any, boxes: Any, alice: Any, plat: Any) -> None:
    _, execution = _made(boxes, alice, plat, State.SUCCESS)
    client.force_login(alice)

    response = client.post(reverse("executions:kill", args=[execution.pk]), follow=True)

    assert response.redirect_chain == [(reverse("executions:detail", args=[execution.pk]), 302)]
    assert "already finished" in response.content.decode()


def test_the_execution_page_kill_button_leads_to_the_question(
    client: Any, boxes: Any, alice: Any, plat: Any
) -> None:
    _, execution = _made(boxes, alice, plat, State.RUNNING)
    client.force_login(alice)

    html = client.get(reverse("executions:detail", args=[execution.pk])).content.decode()

    parser = _Forms()
    parser.feed(html)
    [kill] = [f for f in parser.forms if f["action"] == reverse("executions:kill", args=[execution.pk])]
    assert "data-confirm" not in kill["attrs"]  # one question, the page's, with or without JavaScript
    assert not any(attrs.get("name") == "confirm" for _, attrs in kill["controls"])


# -- live pages -----------------------------------------------------------------------------------------


def test_the_request_fragment_follows_the_decision_then_stops_polling(
    client: Any, alice: Any, bob: Any, alices_request: ResourceRequest
) -> None:
    client.force_login(alice)
    url = reverse("requests:live", args=[alices_request.pk])
    pending = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in pending and "Waiting for an approver" in pending
    assert f'hx-get="{url}"' in pending and "<html" not in pending

    approvals.reject(alices_request.pk, acting_user=bob, comment="too big for a test box")
    decided = client.get(url).content.decode()

    assert "Rejected" in decided and "too big for a test box" in decided and "bob" in decided
    assert "Waiting for an approver" not in decided
    assert "hx-trigger" not in decided  # terminal: the fragment stops the polling


def test_the_request_page_polls_one_fragment_for_everything_that_changes(
    client: Any, alice: Any, alices_request: ResourceRequest
) -> None:
    client.force_login(alice)

    html = client.get(reverse("requests:detail", args=[alices_request.pk])).content.decode()

    assert html.count("hx-trigger") == 1
    live = html[html.index('id="request-live"') :]
    for part in ('id="decision"', 'id="execution"', 'id="request-state"'):
        assert part in live, part


def test_the_request_fragment_polls_while_a_plan_preview_is_pending(
    client: Any, alice: Any, bob: Any, alices_request: ResourceRequest
) -> None:
    approvals.reject(alices_request.pk, acting_user=bob)
    estimate = RequestEstimate.objects.create(
        request=alices_request, plan_state=RequestEstimate.PlanState.PENDING
    )
    client.force_login(alice)
    url = reverse("requests:live", args=[alices_request.pk])
    assert "hx-trigger" in client.get(url).content.decode()

    RequestEstimate.objects.filter(pk=estimate.pk).update(
        plan_state=RequestEstimate.PlanState.DONE,
        plan_summary={"add": 1, "change": 0, "destroy": 0, "resources": []},
    )
    done = client.get(url).content.decode()

    assert "hx-trigger" not in done and "1 to add" in done and "plan running" not in done


def test_the_request_fragment_shows_the_resource_link_and_outputs(
    client: Any, boxes: Any, alice: Any, plat: Any
) -> None:
    resource = _resource(boxes, alice, plat, state=ResourceState.PROVISIONING)
    Execution.objects.filter(pk=resource.request.execution_id).update(outputs={"ip": "203.0.113.7"})
    client.force_login(alice)

    html = client.get(reverse("requests:live", args=[resource.request_id])).content.decode()

    assert reverse("resources:detail", args=[resource.pk]) in html and 'data-testid="resource-link"' in html
    assert 'id="request-outputs"' in html and "203.0.113.7" in html


def test_the_request_fragment_is_a_404_for_a_request_one_may_not_see(
    client: Any, mallory: Any, alices_request: ResourceRequest
) -> None:
    client.force_login(mallory)
    assert client.get(reverse("requests:live", args=[alices_request.pk])).status_code == 404


def test_the_decision_form_returns_to_the_request_page_not_to_the_fragment(
    client: Any, bob: Any, alices_request: ResourceRequest
) -> None:
    client.force_login(bob)
    html = client.get(reverse("requests:live", args=[alices_request.pk])).content.decode()
    assert f'name="next" value="{reverse("requests:detail", args=[alices_request.pk])}"' in html


@pytest.mark.parametrize(
    ("state", "polls"),
    [(ResourceState.PROVISIONING, True), (ResourceState.DESTROYING, True), (ResourceState.RUNNING, False)],
)
def test_the_resource_page_polls_while_the_resource_changes(
    client: Any, boxes: Any, alice: Any, plat: Any, state: str, polls: bool
) -> None:
    resource = _resource(boxes, alice, plat, state=state)
    client.force_login(alice)

    html = client.get(reverse("resources:detail", args=[resource.pk])).content.decode()

    assert ('hx-select="#resource-live"' in html) is polls
    assert ('hx-trigger="every 2s"' in html) is polls


def test_the_resource_page_polls_while_a_day_two_request_is_open(
    client: Any, boxes: Any, alice: Any, plat: Any
) -> None:
    resource = _resource(boxes, alice, plat)
    client.force_login(alice)
    client.post(reverse("resources:action", args=[resource.pk, "destroy"]), {"confirm": "yes"})

    html = client.get(reverse("resources:detail", args=[resource.pk])).content.decode()

    assert 'hx-trigger="every 2s"' in html  # its destroy awaits a decision: the state will change


def test_the_approval_queue_refreshes_itself(client: Any, bob: Any, alices_request: ResourceRequest) -> None:
    client.force_login(bob)

    html = client.get(reverse("approvals:queue"), {"page": "1"}).content.decode()

    assert 'hx-select="#approval-queue"' in html and 'hx-trigger="every 5s"' in html
    assert f'hx-get="{reverse("approvals:queue")}?page=1"' in html  # the same list, its filters kept
