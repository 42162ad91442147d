"""Syncing the catalog from the flows directory."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from portal.catalog.models import CatalogFlow
from portal.catalog.selectors import catalog_by_namespace
from portal.catalog.services import sync_flows

from .conftest import QUICK_FLOW

pytestmark = pytest.mark.django_db


def test_it_loads_every_valid_flow_with_revision_and_labels(flows_dir):
    report = sync_flows(flows_dir)
    assert sorted(report.created) == ["portico.tests.all-inputs", "portico.tests.quick"]
    flow = CatalogFlow.objects.get(flow_id="all-inputs")
    assert flow.active and flow.file == "all-inputs.yml" and len(flow.revision) == 64
    assert flow.labels == {"team": "platform"} and flow.needs_approval
    assert not CatalogFlow.objects.get(flow_id="quick").needs_approval


def test_it_updates_changed_files_and_leaves_unchanged_ones(flows_dir):
    sync_flows(flows_dir)
    old = CatalogFlow.objects.get(flow_id="quick").revision
    (flows_dir / "quick.yml").write_text(QUICK_FLOW.replace("Needs no approval.", "Instant."))
    report = sync_flows(flows_dir)
    assert report.updated == ["portico.tests.quick"]
    assert report.unchanged == ["portico.tests.all-inputs"]
    quick = CatalogFlow.objects.get(flow_id="quick")
    assert quick.revision != old and quick.description == "Instant."


def test_it_reports_invalid_files_without_loading_them(flows_dir):
    (flows_dir / "broken.yml").write_text("id: broken\nnamespace: portico.tests\ntasks: []\n")
    (flows_dir / "garbage.yaml").write_text("id: [unclosed\n")
    report = sync_flows(flows_dir)
    assert not report.ok
    assert any("broken.yml" in e for e in report.errors)
    assert any("garbage.yaml" in e for e in report.errors)
    assert not CatalogFlow.objects.filter(flow_id="broken").exists()
    assert CatalogFlow.objects.filter(active=True).count() == 2


DAY2_WITH_WEBHOOK = """\
id: destroy-by-hook
namespace: portico.tests
labels:
  portico.resource-action: destroy
inputs:
  - id: server_id
    type: INT
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.server_id }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "0123456789abcdef"
"""


def test_it_refuses_a_day2_flow_with_triggers(flows_dir):
    """A webhook would start a destroy with any server id: day-2 flows start from the resource page only."""
    (flows_dir / "destroy-by-hook.yml").write_text(DAY2_WITH_WEBHOOK)
    report = sync_flows(flows_dir)
    [error] = [e for e in report.errors if "destroy-by-hook.yml" in e]
    assert "destroy-by-hook.yml:12: triggers: a day-2 flow" in error and "cannot have triggers" in error
    assert not CatalogFlow.objects.filter(flow_id="destroy-by-hook").exists()
    (flows_dir / "destroy-by-hook.yml").write_text(DAY2_WITH_WEBHOOK.split("triggers:")[0])
    assert sync_flows(flows_dir).ok and CatalogFlow.objects.filter(flow_id="destroy-by-hook").exists()


def test_it_deactivates_flows_whose_file_was_removed(flows_dir):
    sync_flows(flows_dir)
    (flows_dir / "quick.yml").unlink()
    report = sync_flows(flows_dir)
    assert report.deactivated == ["portico.tests.quick"]
    assert not CatalogFlow.objects.get(flow_id="quick").active
    assert [ns for ns, _ in catalog_by_namespace()] == ["portico.tests"]
    assert [f.flow_id for f in catalog_by_namespace()[0][1]] == ["all-inputs"]


def test_it_keeps_the_last_good_version_when_a_file_becomes_invalid(flows_dir):
    sync_flows(flows_dir)
    (flows_dir / "quick.yml").write_text("id: quick\nnamespace: portico.tests\ntasks: []\n")
    report = sync_flows(flows_dir)
    assert report.errors and not report.deactivated
    assert CatalogFlow.objects.get(flow_id="quick").active


def test_it_syncs_from_the_command_reporting_invalid_files(flows_dir, capsys):
    call_command("sync_flows", str(flows_dir))
    assert "2 flow(s) in the catalog, 0 invalid file(s)" in capsys.readouterr().out
    (flows_dir / "broken.yml").write_text("id: broken\n")
    call_command("sync_flows", str(flows_dir))  # the valid flows stay available
    captured = capsys.readouterr()
    assert "broken.yml" in captured.err and "2 flow(s) in the catalog, 1 invalid file(s)" in captured.out
    with pytest.raises(CommandError):
        call_command("sync_flows", str(flows_dir), "--strict")


def test_it_lists_flows_by_namespace_on_the_catalog_page(client, catalog, alice):
    client.force_login(alice)
    html = client.get(reverse("catalog:index")).content.decode()
    assert "portico.tests" in html
    assert "A flow declaring every input type the form supports." in html
    assert reverse("requests:new", args=["portico.tests", "all-inputs"]) in html
    assert "platform" in html  # label


def test_it_sends_anonymous_visitors_to_the_login_page(client, catalog):
    response = client.get(reverse("catalog:index"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


SCHEDULED_FLOW = """\
id: nightly
namespace: portico.tests
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: nightly
triggers:
  - id: every-night
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"""


def test_it_syncs_the_triggers_of_catalog_flows_and_keeps_them_for_a_broken_edit(flows_dir):
    from django_celery_beat.models import PeriodicTask

    from orchestrator.state.models import Trigger

    (flows_dir / "nightly.yml").write_text(SCHEDULED_FLOW)
    sync_flows(flows_dir)
    trigger = Trigger.objects.get(namespace="portico.tests", flow_id="nightly", trigger_id="every-night")
    assert trigger.type == "Schedule" and trigger.enabled
    assert PeriodicTask.objects.filter(enabled=True).count() >= 1

    (flows_dir / "nightly.yml").write_text(SCHEDULED_FLOW.replace("tasks:", "tasks: oops\nbad:"))
    assert not sync_flows(flows_dir).ok
    assert Trigger.objects.filter(flow_id="nightly").exists()

    (flows_dir / "nightly.yml").unlink()
    sync_flows(flows_dir)
    assert not Trigger.objects.filter(flow_id="nightly").exists()
