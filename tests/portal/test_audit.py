"""The audit log: append-only, hash-chained, read-only in the admin, filterable, exportable."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from portal.audit.models import AuditEvent, AuditLogIsAppendOnly
from portal.audit.services import record
from portal.audit.verification import verify_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(alice, bob, plat, data_cc):
    return [
        record(
            "requested",
            actor=alice,
            target=("requests.resourcerequest", 1),
            cost_center=plat,
            flow=("portico.tests", "all-inputs"),
            details={"inputs": {"name": "web-1"}},
        ),
        record(
            "approved",
            actor=bob,
            target=("requests.resourcerequest", 1),
            cost_center=plat,
            flow=("portico.tests", "all-inputs"),
            details={"comment": "fine"},
        ),
        record(
            "requested",
            actor=alice,
            target=("requests.resourcerequest", 2),
            cost_center=data_cc,
            flow=("portico.tests", "quick"),
        ),
        record("execution.finished", target=("requests.resourcerequest", 2), details={"state": "SUCCESS"}),
    ]


def test_it_chains_each_event_to_the_previous_one(events):
    assert AuditEvent.objects.order_by("id").first().prev_hash == "0" * 64  # fixtures' rows come first
    for previous, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == previous.hash
    assert verify_chain() == (True, None)
    assert events[3].actor is None and events[3].actor_repr == "system"


def test_it_refuses_to_update_or_delete_an_event(events):
    event = AuditEvent.objects.get(pk=events[0].pk)
    event.verb = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(verb="forged")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk__gte=events[0].pk).count() == 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_it_refuses_raw_sql_updates_and_deletes_on_postgresql(events):
    for sql in ("UPDATE audit_auditevent SET verb = 'forged'", "DELETE FROM audit_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql)
    assert AuditEvent.objects.filter(verb="forged").count() == 0


def test_it_detects_a_row_changed_behind_its_back(events):
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":  # a superuser bypassing triggers, i.e. someone with DB access
            cur.execute("SET LOCAL session_replication_role = replica")
        forged = '{"comment": "forged"}'
        cur.execute("UPDATE audit_auditevent SET details = %s WHERE id = %s", [forged, events[1].pk])
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain() == (False, events[1].pk)


def test_it_makes_the_admin_read_only(admin_client, events):
    changelist = reverse("admin:audit_auditevent_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert reverse("admin:audit_auditevent_add") not in response.content.decode()
    assert admin_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:audit_auditevent_delete", args=[events[0].pk])).status_code == 403
    change = reverse("admin:audit_auditevent_change", args=[events[0].pk])
    assert admin_client.get(change).status_code == 200  # viewable
    admin_client.post(change, {"verb": "forged"})
    assert not AuditEvent.objects.filter(verb="forged").exists()
    for filter_param in ("actor__id__exact", "cost_center__id__exact", "flow_id", "created__gte"):
        assert filter_param.split("__")[0] in response.content.decode()


def test_it_filters_the_audit_page(client, bob, alice, plat, events):
    client.force_login(bob)
    html = client.get(reverse("audit:list"), {"actor": alice.pk}).content.decode()
    assert html.count('<span class="verb">') == 2
    html = client.get(reverse("audit:list"), {"cost_center": plat.pk}).content.decode()
    assert html.count('<span class="verb">') == 2
    html = client.get(reverse("audit:list"), {"flow": "portico.tests.quick"}).content.decode()
    assert html.count('<span class="verb">') == 1
    html = client.get(reverse("audit:list"), {"verify": "1"}).content.decode()
    assert "chain verified" in html


def test_it_exports_the_filtered_log_as_csv(client, bob, alice, events):
    client.force_login(bob)
    response = client.get(reverse("audit:export"), {"actor": alice.pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["verb"] for r in rows] == ["requested", "requested"]
    assert rows[1]["flow"] == "portico.tests.all-inputs" and rows[1]["cost_center"] == "PLAT-001"
    assert rows[0]["hash"] == events[2].hash


def test_it_keeps_the_audit_log_from_requesters(client, alice, events):
    client.force_login(alice)
    assert client.get(reverse("audit:list")).status_code == 403
    assert client.get(reverse("audit:export")).status_code == 403


def test_it_detects_events_removed_from_the_end(events):
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[3].pk])
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain() == (False, events[2].pk)


def test_it_neutralises_spreadsheet_formulas_in_the_export(client, bob, alice):
    record(
        "requested", actor=alice, target=("requests.resourcerequest", 9), details={"name": "=HYPERLINK(1)"}
    )
    record("=cmd|' /C calc'!A0", actor=alice)
    client.force_login(bob)
    text = b"".join(client.get(reverse("audit:export"), {"actor": alice.pk}).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["verb"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["details"] == '{"name": "=HYPERLINK(1)"}'  # inside JSON, not at the start of a cell
