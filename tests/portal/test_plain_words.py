"""Plain words (issue 13): messages people can act on, display names, readable events and outputs.

Validation never shows a raw regex (a flow explains its ``validator`` with ``portico.validatorMessage``);
built-in rules read as sentences; a cleared optional field stays empty instead of silently taking its
default; inputs are shown by display name with secrets masked; audit verbs have one style and labels,
old rows included; email subjects are plain text; the request form shows what the flow runs.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from orchestrator.executor import control
from orchestrator.flowmodel import input_options, input_types
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.plugins.hcloud.tasks import deprecation_note
from orchestrator.state.models import Execution, TaskRun
from portal.audit import verbs
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.audit.verification import verify_chain
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.executions.selectors import execution_view, idle_gaps
from portal.executions.templatetags.readable import MAX_SHOWN_CHARS, readable
from portal.notifications.services import render_email
from portal.requests.forms import FlowRequestForm, sentence
from portal.requests.models import ResourceRequest
from portal.requests.selectors import display_inputs
from portal.requests.services import submit_request
from portal.resources.services import ACTIONS
from tests.conftest import wait_for
from tests.fakes.hcloud_fake import hcloud_fake  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

PATTERN = "^[a-z][a-z0-9-]{1,20}$"
WORDS_FLOW = f"""\
id: words
namespace: portico.words
labels:
  portico.title: "Bob's test server"
inputs:
  - id: server_name
    type: STRING
    displayName: Server name
    validator: "{PATTERN}"
    portico.validatorMessage: Use lowercase letters, digits and hyphens, starting with a letter.
  - id: nickname
    type: STRING
    required: false
    validator: "[a-z]+"
  - id: size
    type: INT
    displayName: Disk size (GB)
    min: 10
    max: 100
    defaults: 20
  - id: note
    type: STRING
    displayName: Note
    required: false
    defaults: nightly
  - id: owner_email
    type: EMAIL
    required: false
  - id: starts
    type: DATE
    required: false
    after: "2030-01-01"
  - id: flavour
    type: SELECT
    values: [small, large]
    defaults: small
  - id: token
    type: SECRET
    displayName: API token
tasks:
  - id: prepare
    type: io.kestra.plugin.core.flow.Sequential
    description: Get everything ready.
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        description: Tell the log what is about to happen.
        message: "making {{{{ inputs.server_name }}}}"
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.size > 50 }}}}"
    then:
      - id: big
        type: io.kestra.plugin.core.log.Log
        message: big
    else:
      - id: small
        type: io.kestra.plugin.core.log.Log
        message: small
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
"""
DAY_TWO_FLOW = """\
id: words-destroy
namespace: portico.words
labels:
  portico.resource-action: destroy
inputs:
  - id: resource_id
    type: INT
  - id: server_id
    type: INT
  - id: reason
    type: STRING
    displayName: Why
tasks:
  - id: bye
    type: io.kestra.plugin.core.log.Log
    message: bye
"""
GOOD = {"server_name": "web-1", "size": "20", "flavour": "small", "token": "t0ps3cret", "note": "nightly"}


@pytest.fixture
def words(tmp_path: Any) -> CatalogFlow:
    directory = tmp_path / "words-flows"
    directory.mkdir()
    (directory / "words.yml").write_text(WORDS_FLOW)
    (directory / "words-destroy.yml").write_text(DAY_TWO_FLOW)
    report = sync_flows(directory)
    assert report.ok, report.errors
    return CatalogFlow.objects.get(flow_id="words")


def _form(catalog_flow: CatalogFlow, user: Any, data: dict[str, Any]) -> FlowRequestForm:
    return FlowRequestForm(data, flow=catalog_flow.parse(), user=user)


# --- validation messages -----------------------------------------------------------------------------


def test_a_flow_explains_its_validator_in_its_own_words(words, alice, plat, client):
    """``portico.validatorMessage`` is what people read; the pattern is never shown to them."""
    client.force_login(alice)
    url = reverse("requests:new", args=["portico.words", "words"])
    response = client.post(url, {**GOOD, "server_name": "Web 1!", "cost_center": plat.pk})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "This value is not in the expected format. Use lowercase letters, digits and hyphens, "
        "starting with a letter." in html
    )
    assert "must match" not in html
    form = response.context["form"]
    assert PATTERN not in form.errors["server_name"][0]
    assert PATTERN not in form.fields["server_name"].help_text
    assert "Use lowercase letters" in form.fields["server_name"].help_text


def test_a_validator_without_a_message_gets_a_plain_default(words, alice, plat):
    form = _form(words, alice, {**GOOD, "nickname": "Nick1", "cost_center": plat.pk})
    assert not form.is_valid()
    assert form.errors["nickname"] == ["This value is not in the expected format."]


def test_the_author_still_reads_the_pattern_and_a_message_needs_a_validator():
    """Loading a flow is for its author: a default that fails the validator names the pattern; a
    ``portico.validatorMessage`` without a ``validator`` (or on a type without one) is refused."""
    base = (
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    cases = [
        ("  - id: a\n    type: STRING\n    validator: '[a-z]+'\n    defaults: ABC\n", "must match [a-z]+"),
        (
            "  - id: a\n    type: STRING\n    portico.validatorMessage: Letters only\n",
            "explains a 'validator'",
        ),
        ("  - id: a\n    type: INT\n    portico.validatorMessage: Digits\n", "unknown property"),
        ("  - id: a\n    type: ARRAY\n    itemType: STRING\n    validator: '[a-z]+'\n", "unknown property"),
    ]
    for inputs, message in cases:
        with pytest.raises(FlowValidationError) as caught:
            parse_flow(base + "inputs:\n" + inputs, "f.yml")
        assert any(message in error.message for error in caught.value.errors), caught.value.errors


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("size", "5", "This value must be at least 10."),
        ("size", "500", "This value must be at most 100."),
        ("size", "many", "This value must be an integer."),
        ("server_name", "", "This field is required."),
        ("flavour", "huge", "This value must be one of: small, large."),
        ("starts", "2029-12-31", "This value must be on or after 2030-01-01."),
        ("owner_email", "nobody", "This value must be an email address."),
    ],
)
def test_built_in_rules_read_as_sentences(words, alice, plat, field, bad, message):
    form = _form(words, alice, {**GOOD, field: bad, "cost_center": plat.pk})
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_sentence_keeps_messages_that_already_read_as_sentences():
    assert sentence("is required") == "This field is required."
    assert sentence("cannot compute the default: boom") == "This value cannot compute the default: boom."
    assert sentence("the inputs together are too large.") == "The inputs together are too large."


# --- cleared optional fields -------------------------------------------------------------------------


def test_a_cleared_optional_field_stays_empty_and_the_form_says_so(words, alice, plat):
    """Kestra's own form drops an emptied field and the engine applies the default: clearing changes
    nothing, silently. Portico prefills the default and takes an emptied optional field at its word."""
    form = _form(words, alice, {**GOOD, "note": "", "cost_center": plat.pk})
    assert form.fields["note"].initial == "nightly"
    assert "leave it unset" in form.fields["note"].help_text
    assert form.is_valid(), form.errors
    assert form.resolved_inputs["note"] is None
    kept = _form(words, alice, {**GOOD, "cost_center": plat.pk})
    assert kept.is_valid() and kept.resolved_inputs["note"] == "nightly"


def test_a_required_input_with_a_default_still_takes_it_when_emptied(words, alice, plat):
    form = _form(words, alice, {**GOOD, "size": "", "cost_center": plat.pk})
    assert "the default shown is used" in form.fields["size"].help_text
    assert form.fields["flavour"].help_text == ""  # a list without an empty choice: nothing to explain
    assert form.fields["owner_email"].help_text == ""  # no default, no description: no stray "."
    assert form.is_valid(), form.errors
    assert form.resolved_inputs["size"] == 20


def test_the_engine_keeps_kestras_default_for_absent_values_and_honours_cleared():
    flow = parse_flow(WORDS_FLOW, "words.yml")
    base = {"server_name": "web-1", "token": "x"}
    assert input_types.resolve_inputs(flow, base)["note"] == "nightly"  # absent: the default (Kestra)
    assert input_types.resolve_inputs(flow, {**base, "note": None})["note"] == "nightly"
    assert input_types.resolve_inputs(flow, {**base, "note": input_types.CLEARED})["note"] is None
    with pytest.raises(input_types.InputsInvalid) as caught:
        input_types.resolve_inputs(flow, {**base, "size": input_types.CLEARED})
    assert caught.value.errors == {"size": "is required"}


# --- display names -----------------------------------------------------------------------------------


def _submit(words: CatalogFlow, alice: Any, plat: Any) -> ResourceRequest:
    return submit_request(requester=alice, catalog_flow=words, data=dict(GOOD), cost_center=plat)


def test_request_page_queue_and_email_show_display_names_and_mask_secrets(words, alice, bob, plat, client):
    request = _submit(words, alice, plat)
    shown = display_inputs(request)
    assert list(shown)[:3] == ["Server name", "Nickname", "Disk size (GB)"]
    assert shown["API token"] == "******" and "token" not in shown

    client.force_login(alice)
    page = client.get(reverse("requests:detail", args=[request.pk])).content.decode()
    assert "Disk size (GB)" in page and "Owner email" in page
    assert "t0ps3cret" not in page

    client.force_login(bob)
    queue = client.get(reverse("approvals:queue")).content.decode()
    assert "Server name" in queue and "API token" in queue and "t0ps3cret" not in queue

    subject, body = render_email("requested", request)
    assert "Server name: web-1" in body and "API token: ******" in body
    assert "t0ps3cret" not in body


def test_a_day_two_request_shows_no_identifiers_portico_filled_in(words, alice, plat):
    destroy = CatalogFlow.objects.get(flow_id="words-destroy")
    request = ResourceRequest.objects.create(
        requester=alice,
        catalog_flow=destroy,
        flow_revision=destroy.revision,
        flow_source=destroy.source,
        inputs={"resource_id": 1, "server_id": 1001, "reason": "done"},
        cost_center=plat,
    )
    assert display_inputs(request) == {"Why": "done"}


def test_email_subjects_are_plain_text(words, alice, plat):
    request = _submit(words, alice, plat)
    subject, body = render_email("requested", request)
    assert "Bob's test server" in subject and "&#x27;" not in subject
    assert "Bob's test server" in body


# --- deprecated server types -------------------------------------------------------------------------


def test_the_server_type_dropdown_marks_a_type_some_locations_retire(hcloud_fake, settings):  # noqa: F811
    settings.HCLOUD_TOKEN = hcloud_fake.token
    settings.HCLOUD_ENDPOINT = hcloud_fake.endpoint
    cache.clear()
    try:
        labels = dict(input_options.options("hcloud.server_types"))
    finally:
        cache.clear()
    assert labels["cx21"].endswith(" — deprecated in fsn1 (unavailable after 2024-09-06)")
    assert "deprecated" not in labels["cx22"]
    assert "cx11" not in labels  # deprecated everywhere: not offered at all


def test_a_deprecated_server_type_is_marked_in_its_label():
    kind = {"deprecated": {"fsn1": "2025-09-01T00:00:00+00:00", "nbg1": "2025-09-01T00:00:00+00:00"}}
    assert deprecation_note(kind) == "deprecated in fsn1, nbg1 (unavailable after 2025-09-01)"
    assert deprecation_note({"deprecated": {}}) == ""


# --- audit verbs -------------------------------------------------------------------------------------


def test_audit_verbs_have_one_style_and_old_rows_keep_their_hash(words, alice, bob, plat, client):
    record("approved", actor=bob, target=("requests.resourcerequest", 1), cost_center=plat)  # an old row
    request = _submit(words, alice, plat)
    assert AuditEvent.objects.filter(verb="request.submitted", target_id=str(request.pk)).exists()
    record("request.approved", actor=bob, target=request, cost_center=plat)
    assert verify_chain() == (True, None)  # nothing stored was rewritten

    client.force_login(bob)
    page = client.get(reverse("audit:list"), {"verb": "request.approved"}).content.decode()
    assert page.count('<span class="verb">Request approved</span>') == 2  # the old spelling too
    assert ">Request submitted<" in client.get(reverse("audit:list")).content.decode()


def test_every_verb_portico_records_has_a_label_and_no_old_spelling_is_recorded():
    """Every dotted verb literal in the portal's code (and the day-2 ones built from an action name)."""
    found: set[str] = set()
    for path in (Path(settings.BASE_DIR) / "portal").rglob("*.py"):
        if path.name == "verbs.py":
            continue
        found |= set(re.findall(r'"((?:request|execution|resource|provider)\.[a-z_]+)"', path.read_text()))
    found |= {f"resource.{action}_{outcome}" for action in ACTIONS for outcome in ("succeeded", "failed")}
    assert found - set(verbs.LABELS) == set()
    assert found & set(verbs.LEGACY) == set()
    assert set(verbs.LEGACY.values()) <= set(verbs.LABELS)


# --- what the flow runs ------------------------------------------------------------------------------


def test_the_request_form_shows_the_task_tree_and_the_read_only_source(words, alice, client):
    client.force_login(alice)
    response = client.get(reverse("requests:new", args=["portico.words", "words"]))
    html = response.content.decode()
    rows = [(r.depth, r.heading or r.task_id, r.type_name) for r in response.context["topology"]]
    assert rows == [
        (0, "prepare", "Sequential"),
        (1, "say", "Log"),
        (0, "check", "If"),
        (1, "then", ""),
        (2, "big", "Log"),
        (1, "else", ""),
        (2, "small", "Log"),
        (0, "If a task fails", ""),
        (1, "alert", "Log"),
    ]
    assert "Tell the log what is about to happen." in html
    assert "Flow source (read-only)" in html and "portico.validatorMessage: Use lowercase" in html


# --- readable outputs and durations ------------------------------------------------------------------


def test_outputs_are_collapsed_and_plan_summaries_become_tables():
    summary = {
        "add": 1,
        "change": 0,
        "destroy": 2,
        "resources": [{"address": "a.b", "type": "t", "actions": ["create"]}],
    }
    plan = readable(summary)
    assert plan["kind"] == "plan" and plan["counts"] == [("add", 1), ("change", 0), ("destroy", 2)]
    assert plan["resources"] == [{"address": "a.b", "type": "t", "actions": "create"}]
    big = readable([{"n": i, "pad": "x" * 100} for i in range(2000)])
    assert big["kind"] == "block" and big["summary"] == "2000 items"
    assert len(big["text"]) == MAX_SHOWN_CHARS and big["truncated"].endswith("KB")
    nested = readable({"values": {"summary": summary, "rows": list(range(500))}})  # OutputValues' shape
    [(name, inner)] = nested["items"]
    assert nested["kind"] == "fields" and name == "values" and inner["kind"] == "fields"
    assert [(key, shown["kind"]) for key, shown in inner["items"]] == [("summary", "plan"), ("rows", "block")]
    deep = readable({"a": {"b": {"c": {"d": 1}}}})
    assert deep["items"][0][1]["items"][0][1]["kind"] == "block"  # nesting is bounded
    assert readable("short") == {"kind": "inline", "text": "short"}
    assert readable(["a", "b"]) == {"kind": "inline", "text": "a, b"}
    assert readable(None)["text"] == "—" and readable(True)["text"] == "yes"


def test_the_gantt_and_duration_leave_out_the_idle_gap_before_a_restart():
    """Taken from the execution's own state history: FAILED at 10 s, RESTARTED an hour later."""
    t0 = timezone.now() - timedelta(hours=2)

    def at(seconds: float) -> str:
        return (t0 + timedelta(seconds=seconds)).isoformat()

    history = [
        {"state": "CREATED", "date": at(0)},
        {"state": "RUNNING", "date": at(0)},
        {"state": "FAILED", "date": at(10)},
        {"state": "RESTARTED", "date": at(3610)},
        {"state": "RUNNING", "date": at(3610)},
        {"state": "SUCCESS", "date": at(3620)},
    ]
    execution = Execution.objects.create(
        namespace="portico.words",
        flow_id="words",
        flow_revision="r",
        flow_source=WORDS_FLOW,
        state="SUCCESS",
        history=history,
        started=t0,
        ended=t0 + timedelta(seconds=3620),
    )
    TaskRun.objects.create(
        execution=execution,
        task_id="say",
        state="SUCCESS",
        attempts=2,
        started=t0 + timedelta(seconds=5),
        ended=t0 + timedelta(seconds=3615),
        history=[
            {"state": "RUNNING", "date": at(5)},
            {"state": "FAILED", "date": at(10)},
            {"state": "RUNNING", "date": at(3610)},
            {"state": "SUCCESS", "date": at(3615)},
        ],
    )
    assert idle_gaps(history) == [(t0 + timedelta(seconds=10), t0 + timedelta(seconds=3610))]
    view = execution_view(execution)
    assert view["duration"] == "20.0 s" and view["idle"] == "1 h 0 min"
    [row] = view["rows"]
    assert row.duration == "10.0 s"
    assert [(bar.left, bar.width) for bar in row.segments] == [("25.00", "25.00"), ("50.00", "25.00")]


RESTARTED_FLOW = """\
id: restarted
namespace: portico.words
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: kept
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke"
"""
IDLE_SECONDS = 2.0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_restart_leaves_its_idle_wait_out_of_the_duration(run_flow):
    """Run, fail, wait, restart (fails again): the wait before the restart is not counted."""
    execution = run_flow(RESTARTED_FLOW)
    assert execution.state == "FAILED"
    time.sleep(IDLE_SECONDS)  # the idle gap, not a timing assertion
    assert control.restart(execution.pk)
    execution = wait_for(execution)
    assert execution.state == "FAILED" and any(e["state"] == "RESTARTED" for e in execution.history)
    [(gap_start, gap_end)] = idle_gaps(execution.history)
    assert (gap_end - gap_start).total_seconds() >= IDLE_SECONDS
    view = execution_view(execution)
    wall = (execution.ended - execution.started).total_seconds()
    assert view["timeline"].seconds <= wall - IDLE_SECONDS
    assert view["idle"]
    boom = next(row for row in view["rows"] if row.label == "boom")
    assert len(boom.segments) == 2  # both attempts drawn, side by side once the gap is cut out
    assert float(boom.segments[1].left) < 100.0
