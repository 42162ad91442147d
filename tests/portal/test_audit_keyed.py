"""The audit log an auditor accepts: what is recorded (sign-ins, roles and groups, cost-center members,
admin actions, flow revisions with their diff), the keyed chain a database writer cannot recompute,
``manage.py audit verify|export|archive``, streamed exports and a retention that archives.

Runs on SQLite and on PostgreSQL (``DATABASE_URL``): where the two differ (the append-only trigger), each
test checks what its database does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import include, path, reverse
from django.utils import timezone

from portal.accounts.models import CostCenter, NamespaceGrant, User
from portal.audit import archive, chain, checks
from portal.audit.admin_changes import AuditedAdminMixin
from portal.audit.keys import audit_key
from portal.audit.models import AuditChainHead, AuditEvent
from portal.audit.services import record, start_keyed_chain
from portal.audit.verification import verify_chain, verify_chain_report
from portal.catalog.services import sync_flows

pytestmark = pytest.mark.django_db
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ON_POSTGRES = connection.vendor == "postgresql"


# --- a second admin site whose cost-center admin carries the audit mixin (for field-level changes) -----

audited_site = admin.AdminSite(name="audited")


class AuditedCostCenterAdmin(AuditedAdminMixin, admin.ModelAdmin):
    fields = ("code", "name", "active", "monthly_budget")


audited_site.register(CostCenter, AuditedCostCenterAdmin)
urlpatterns = [path("audited-admin/", audited_site.urls), path("", include("portal.urls"))]


@pytest.fixture(autouse=True)
def archive_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_AUDIT_ARCHIVE_DIR = tmp_path / "audit-archive"
    return settings.PORTICO_AUDIT_ARCHIVE_DIR


@pytest.fixture
def root(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def root_client(client: Client, root: User) -> Client:
    client.force_login(root, backend=MODEL_BACKEND)
    return client


def _events(verb: str, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb, **filters).order_by("id"))


def _raw(sql: str, params: list[Any]) -> None:
    """Write as someone with database access: on PostgreSQL past the trigger (a superuser can)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if ON_POSTGRES:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if ON_POSTGRES:
            cursor.execute("SET LOCAL session_replication_role = origin")


def _fresh_log() -> None:
    """Start from an empty log (the fixtures' rows gone), as a log whose ids follow time."""
    _raw("DELETE FROM audit_auditevent", [])
    AuditChainHead.objects.update_or_create(pk=1, defaults={"last_hash": chain.GENESIS_HASH})


def _chained_rows(count: int, *, created: Any = None, scheme: str = chain.KEYED) -> list[AuditEvent]:
    """``count`` correctly chained rows after the current head, written in bulk (as fast as SQL allows)."""
    head, _ = AuditChainHead.objects.get_or_create(pk=1, defaults={"last_hash": chain.GENESIS_HASH})
    prev, key, rows = head.last_hash, audit_key(), []
    for n in range(count):
        event = AuditEvent(
            created=created or timezone.now(),
            actor_repr="system",
            verb="test.bulk",
            target_type="test",
            target_id=str(n),
            details={"n": n},
            prev_hash=prev,
            scheme=scheme,
        )
        event.hash = prev = chain.link_hash(scheme, prev, event, key)
        rows.append(event)
    AuditEvent.objects.bulk_create(rows, batch_size=1000)
    head.last_hash = prev
    head.save(update_fields=["last_hash"])
    return list(AuditEvent.objects.filter(verb="test.bulk").order_by("id"))


# --- what is recorded ---------------------------------------------------------------------------------


def test_sign_in_failure_and_sign_out_are_recorded_through_the_login_view(alice: User) -> None:
    browser = Client(REMOTE_ADDR="10.1.2.3")
    refused = browser.post(reverse("account_login"), {"login": "alice", "password": "wrong-password"})
    assert refused.status_code == 200 and "_auth_user_id" not in browser.session
    browser.post(reverse("account_login"), {"login": "alice", "password": "pw"})
    assert browser.session["_auth_user_id"] == str(alice.pk)
    browser.post(reverse("account_logout"))

    [failed] = _events("user.login_failed")
    assert failed.actor is None and failed.details["login"] == "alice" and failed.details["ip"] == "10.1.2.3"
    assert "wrong-password" not in json.dumps(failed.details)
    [signed_in] = _events("user.logged_in")
    assert signed_in.actor == alice and signed_in.target_id == str(alice.pk)
    assert signed_in.details["ip"] == "10.1.2.3" and signed_in.details["backend"]
    [signed_out] = _events("user.logged_out")
    assert signed_out.actor == alice and signed_out.pk > signed_in.pk > failed.pk
    assert verify_chain() == (True, None)


def test_group_membership_is_recorded_from_either_side(alice: User) -> None:
    approvers = Group.objects.get(name="approvers")
    alice.groups.add(approvers)
    approvers.user_set.remove(alice)
    alice.groups.add(approvers)
    alice.groups.clear()

    rows = _events("user.groups_changed", target_id=str(alice.pk))[-4:]
    assert [(sorted(r.details), r.details.get("added", r.details.get("removed"))["names"]) for r in rows] == [
        (["added", "of"], ["approvers"]),
        (["of", "removed"], ["approvers"]),
        (["added", "of"], ["approvers"]),
        (["of", "removed"], ["approvers", "requesters"]),
    ]
    assert all(r.target_type == "accounts.user" and r.actor is None for r in rows)


def test_a_group_changed_in_the_admin_is_recorded_with_who_did_it(root_client: Client, root: User) -> None:
    group = Group.objects.create(name="auditors")
    permission = Permission.objects.get(codename="view_auditevent")
    url = reverse("admin:auth_group_change", args=[group.pk])
    response = root_client.post(url, {"name": "auditors", "permissions": [permission.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]

    [granted] = _events("group.permissions_changed", target_id=str(group.pk))
    assert granted.actor == root and granted.details["added"]["names"] == ["audit.view_auditevent"]
    [changed] = _events("admin.changed", target_type="auth.group", target_id=str(group.pk))
    assert changed.actor == root and "Permissions" in changed.details["message"]
    assert changed.pk > granted.pk


def test_cost_center_members_and_approvers_are_recorded(root_client: Client, root: User, alice: User) -> None:
    plat = CostCenter.objects.get(code="PLAT-001")
    url = reverse("admin:accounts_costcenter_change", args=[plat.pk])
    data = {
        "code": "PLAT-001",
        "name": "Platform",
        "active": "on",
        "members": [alice.pk],
        "approvers": [root.pk],
    }
    assert root_client.post(url, data).status_code == 302

    [members] = _events("cost_center.members_changed")
    assert members.cost_center == plat and members.actor == root
    assert members.details["added"] == {"names": ["alice"], "count": 1}
    [approvers] = _events("cost_center.approvers_changed")
    assert approvers.details["added"]["names"] == ["root"]
    [changed] = _events("admin.changed", target_type="accounts.costcenter")
    assert changed.details["object"].startswith("PLAT-001")


def test_superuser_and_staff_flags_are_role_changes(alice: User) -> None:
    alice.is_staff = True
    alice.save()
    alice.last_login = timezone.now()
    alice.save(update_fields=["last_login"])  # not a role change: nothing recorded
    [row] = _events("user.role_changed")
    assert row.details["changed"] == {"is_staff": {"from": False, "to": True}}


def test_roles_on_namespaces_granted_changed_and_revoked_are_recorded(alice: User) -> None:
    grant = NamespaceGrant.objects.create(namespace_pattern="team-a.*", role="approver", user=alice)
    grant.role = "admin"
    grant.save()
    grant_id = grant.pk
    grant.delete()
    rows = AuditEvent.objects.filter(target_type="accounts.namespacegrant", target_id=str(grant_id))
    assert [(r.verb, r.details["role"]) for r in rows.order_by("id")] == [
        ("role.granted", "approver"),
        ("role.changed", "admin"),
        ("role.revoked", "admin"),
    ]
    assert rows.first().details["user"] == "alice" and rows.first().details["namespace_pattern"] == "team-a.*"


def test_every_admin_action_is_recorded_from_its_log_entry(root_client: Client, root: User) -> None:
    add = root_client.post(reverse("admin:auth_group_add"), {"name": "temporary"})
    assert add.status_code == 302
    temporary = Group.objects.get(name="temporary")
    [added] = _events("admin.added", target_type="auth.group")
    assert (
        added.actor == root
        and added.target_id == str(temporary.pk)
        and added.details["object"] == "temporary"
    )

    # Several objects deleted at once: Django bulk-creates their log entries (no post_save).
    doomed = [Group.objects.create(name=f"doomed-{n}").pk for n in range(2)]
    changelist = reverse("admin:auth_group_changelist")
    form = {"action": "delete_selected", "_selected_action": doomed, "post": "yes"}
    assert root_client.post(changelist, form).status_code == 302
    assert not Group.objects.filter(pk__in=doomed).exists()
    deleted = _events("admin.deleted", target_type="auth.group")
    assert sorted(int(r.target_id) for r in deleted) == sorted(doomed)
    assert {r.details["object"] for r in deleted} == {"doomed-0", "doomed-1"}


@pytest.mark.urls(__name__)
def test_the_admin_mixin_records_each_changed_fields_old_and_new_value(
    root_client: Client, root: User
) -> None:
    cc = CostCenter.objects.create(code="OPS-9", name="Ops", monthly_budget="100.00")
    url = reverse("admin:accounts_costcenter_change", args=[cc.pk], current_app="audited")
    assert url.startswith("/audited-admin/")
    data = {"code": "OPS-9", "name": "Operations", "active": "on", "monthly_budget": "250.00"}
    assert root_client.post(url, data).status_code == 302

    [changed] = _events("admin.changed", target_type="accounts.costcenter")
    assert changed.actor == root
    assert changed.details["fields"] == {
        "name": {"from": "Ops", "to": "Operations"},
        "monthly_budget": {"from": "100.00", "to": "250.00"},
    }


def test_a_new_flow_revision_is_recorded_once_with_its_diff(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    source = (
        "id: hello\nnamespace: audit.tests\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n"
    )
    (flows / "hello.yml").write_text(source + "    message: first\n")
    assert sync_flows(flows).ok
    (flows / "hello.yml").write_text(source + "    message: second\n")
    assert sync_flows(flows).ok
    assert sync_flows(flows).ok  # unchanged: no new revision, no new row

    first, second = _events("flow.revised")
    assert (first.flow, first.details["revision"], second.details["revision"]) == ("audit.tests.hello", 1, 2)
    assert first.details["diff"].startswith("--- /dev/null\n+++ audit.tests.hello revision 1\n")
    diff = second.details["diff"]
    assert "--- audit.tests.hello revision 1" in diff and "+++ audit.tests.hello revision 2" in diff
    assert "-    message: first\n" in diff and "+    message: second\n" in diff
    assert second.details["diff_truncated"] is False
    assert second.target_type == "orchestrator.flowrevision"


# --- the keyed chain ------------------------------------------------------------------------------------


def test_a_row_edited_in_the_database_is_caught(alice: User) -> None:
    events = [record("request.submitted", actor=alice, details={"n": n}) for n in range(3)]
    forged = json.dumps({"n": 99})
    if ON_POSTGRES:  # the trigger refuses the edit outright
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE audit_auditevent SET details = %s WHERE id = %s", [forged, events[1].pk]
                )
    _raw("UPDATE audit_auditevent SET details = %s WHERE id = %s", [forged, events[1].pk])

    report = verify_chain_report()
    assert (report.ok, report.broken_at) == (False, events[1].pk)
    assert "content differs" in report.reason


def test_a_writer_who_recomputes_a_plain_sha256_chain_is_still_caught(alice: User) -> None:
    """The attacker knows the format and the previous hash, but not the key: their hashes are plain."""
    events = [record("request.submitted", actor=alice, details={"n": n}) for n in range(4)]
    prev = events[1].prev_hash
    for event in AuditEvent.objects.filter(pk__gte=events[1].pk).order_by("id"):
        if event.pk == events[1].pk:
            event.details = {"n": 99}
        new_hash = chain.plain_hash(prev, event)
        _raw(
            "UPDATE audit_auditevent SET details = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(event.details), prev, new_hash, event.pk],
        )
        prev = new_hash
    _raw("UPDATE audit_auditchainhead SET last_hash = %s WHERE id = 1", [prev])

    report = verify_chain_report()
    assert (report.ok, report.broken_at) == (False, events[1].pk)
    assert "plain SHA-256" in report.reason and "without the key" in report.reason


def test_downgrading_every_row_to_plain_sha256_is_caught(alice: User) -> None:
    for n in range(3):
        record("request.submitted", actor=alice, details={"n": n})
    prev = chain.GENESIS_HASH
    for event in AuditEvent.objects.order_by("id"):
        new_hash = chain.plain_hash(prev, event)
        _raw(
            "UPDATE audit_auditevent SET scheme = 'sha256', prev_hash = %s, hash = %s WHERE id = %s",
            [prev, new_hash, event.pk],
        )
        prev = new_hash
    _raw("UPDATE audit_auditchainhead SET last_hash = %s WHERE id = 1", [prev])

    report = verify_chain_report()
    assert not report.ok and "no keyed row" in report.reason


def test_rows_from_before_the_key_keep_verifying_and_stay_protected(alice: User) -> None:
    _fresh_log()  # then a log written before the key, as the migration finds it
    legacy = _chained_rows(3, scheme=chain.PLAIN)
    assert start_keyed_chain() is True and start_keyed_chain() is False  # once
    marker = AuditEvent.objects.get(verb=chain.MARKER_VERB)
    assert marker.scheme == chain.KEYED and marker.prev_hash == legacy[-1].hash
    record("request.submitted", actor=alice)
    report = verify_chain_report()
    assert report.ok, report.reason
    plain = AuditEvent.objects.filter(scheme=chain.PLAIN).order_by("id").values_list("hash", flat=True)
    assert list(plain) == [e.hash for e in legacy]  # never rewritten

    # Rewriting a plain row and recomputing the plain links up to the marker breaks the marker's HMAC.
    prev = legacy[0].prev_hash
    for n, event in enumerate(legacy):
        event.details = {"n": 100 + n}
        new_hash = chain.plain_hash(prev, event)
        _raw(
            "UPDATE audit_auditevent SET details = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(event.details), prev, new_hash, event.pk],
        )
        prev = new_hash
    report = verify_chain_report()
    assert (report.ok, report.broken_at) == (False, marker.pk)


def _manage(*argv: str) -> tuple[int, str, str]:
    """``manage.py ...`` in a child process on this test's database: (exit status, stdout, stderr)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        where = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{where}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORTICO_AUDIT_ARCHIVE_DIR": str(settings.PORTICO_AUDIT_ARCHIVE_DIR),
    }
    env["PORTICO_DATA_DIR"] = str(settings.DATA_DIR)
    done = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.django_db(transaction=True)
def test_audit_verify_exits_non_zero_naming_the_first_broken_row(alice: User) -> None:
    events = [record("request.submitted", actor=alice, details={"n": n}) for n in range(3)]
    status, out, _ = _manage("audit", "verify")
    assert status == 0 and "audit chain verified" in out

    _raw("UPDATE audit_auditevent SET actor_repr = 'mallory' WHERE id = %s", [events[2].pk])
    _raw("UPDATE audit_auditevent SET actor_repr = 'mallory' WHERE id = %s", [events[1].pk])
    status, _, err = _manage("audit", "verify")
    assert status == 1
    assert f"broken at event {events[1].pk}" in err and "content differs" in err


def test_audit_verify_names_rows_missing_from_the_middle(alice: User) -> None:
    events = [record("request.submitted", actor=alice, details={"n": n}) for n in range(3)]
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError) as broken:
        call_command("audit", "verify")
    assert broken.value.returncode == 1
    assert f"broken at event {events[2].pk}" in str(broken.value) and "removed" in str(broken.value)


# --- exports ---------------------------------------------------------------------------------------------


def _pieces(response: Any) -> Iterator[str]:
    for piece in response.streaming_content:
        yield piece.decode()


def test_ten_thousand_rows_export_streamed_in_pieces(client: Client, bob: User) -> None:
    _chained_rows(10_000)
    client.force_login(bob, backend=MODEL_BACKEND)
    bulk = {"verb": "test.bulk"}
    for name, header in (("audit:export", 1), ("audit:export_jsonl", 0)):
        response = client.get(reverse(name), bulk)
        assert isinstance(response, StreamingHttpResponse) and response.streaming
        lines, pieces, largest = 0, 0, 0
        for piece in _pieces(response):
            pieces += 1
            largest = max(largest, len(piece))
            lines += piece.count("\n")
        assert lines == 10_000 + header
        assert pieces > 10 and largest < 256 * 1024  # written a chunk at a time, never as one body
    text = "".join(_pieces(client.get(reverse("audit:export_jsonl"), bulk)))  # read to the end: closes
    first = json.loads(text.splitlines()[0])
    assert {"id", "created", "prev_hash", "hash", "scheme", "details", "actor_id"} <= set(first)
    assert verify_chain() == (True, None)


def test_audit_export_command_filters_and_streams_to_a_file(tmp_path: Path, alice: User, bob: User) -> None:
    record("request.submitted", actor=alice, details={"n": 1})
    record("request.approved", actor=bob)
    record("request.submitted", actor=bob, details={"n": 2})
    target = tmp_path / "out.jsonl"
    call_command(
        "audit",
        "export",
        "--format",
        "jsonl",
        "--verb",
        "request.submitted",
        "--actor",
        "bob",
        "--output",
        str(target),
    )
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["verb"], r["actor"], r["details"]) for r in rows] == [("request.submitted", "bob", {"n": 2})]
    # Every field a link covers is there: the exported row re-verifies with the key.
    assert chain.keyed_hash(rows[0]["prev_hash"], rows[0], audit_key()) == rows[0]["hash"]

    out = io.StringIO()
    today = timezone.now().date().isoformat()
    call_command("audit", "export", "--format", "csv", "--since", today, "--until", today, stdout=out)
    csv_lines = out.getvalue().strip().splitlines()
    assert (
        csv_lines[0].startswith("id,created,actor,verb") and len(csv_lines) == 1 + AuditEvent.objects.count()
    )


def test_the_audit_page_offers_both_exports(client: Client, bob: User) -> None:
    client.force_login(bob, backend=MODEL_BACKEND)
    html = client.get(reverse("audit:list")).content.decode()
    assert 'href="/audit/export.csv?' in html and 'href="/audit/export.jsonl?' in html


# --- retention: archive, then verify across archive and table ---------------------------------------


def test_old_rows_are_archived_signed_and_still_verified(archive_dir: Path, alice: User) -> None:
    _fresh_log()
    old = _chained_rows(120, created=timezone.now() - timedelta(days=400))
    recent = [record("request.submitted", actor=alice, details={"n": n}) for n in range(3)]
    before = AuditEvent.objects.count()
    archived_before = AuditEvent.objects.filter(id__lte=old[-1].pk).count()

    manifests = archive.archive_expired(days=365, batch=50)
    assert [m["count"] for m in manifests] == [50, 50, archived_before - 100]
    assert not AuditEvent.objects.filter(id__lte=old[-1].pk).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in recent]).count() == 3
    assert AuditEvent.objects.count() == before - archived_before + len(manifests)  # + audit.archived rows
    last = json.loads(sorted(archive_dir.glob("*.manifest.json"))[-1].read_text())
    assert last["last_id"] == old[-1].pk and last["head_hash"] == old[-1].hash and last["hmac"]
    with gzip.open(archive_dir / last["file"], "rt") as handle:
        assert json.loads(handle.readline())["id"] == last["first_id"]

    report = verify_chain_report()
    assert report.ok, report.reason
    assert report.archived_rows == archived_before and len(report.archives) == 3
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert f"{archived_before} in 3 archive file(s)" in out.getvalue()

    if ON_POSTGRES:  # the trigger's door is the archiver's alone
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [recent[0].pk])


def test_an_altered_archive_or_a_row_deleted_outside_the_archiver_is_caught(
    archive_dir: Path, alice: User
) -> None:
    _fresh_log()
    _chained_rows(10, created=timezone.now() - timedelta(days=400))
    remaining = [record("request.submitted", actor=alice, details={"n": n}) for n in range(2)]
    [manifest] = archive.archive_expired(days=365)
    data = archive_dir / manifest["file"]
    original = data.read_bytes()

    # The oldest remaining row deleted behind the archiver's back: it no longer links to the archive head.
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [remaining[0].pk])
    report = verify_chain_report()
    assert (report.ok, report.broken_at) == (False, remaining[1].pk) and "removed" in report.reason

    # A row rewritten inside the archive, the file's hash fixed in the manifest: the signature fails.
    rows = [json.loads(line) for line in gzip.decompress(original).decode().splitlines()]
    rows[3]["details"] = {"n": 99}
    data.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    manifest_path = archive_dir / manifest["file"].replace(".jsonl.gz", archive.MANIFEST_SUFFIX)
    signed = json.loads(manifest_path.read_text())
    signed["sha256"] = hashlib.sha256(data.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(signed))
    report = verify_chain_report()
    assert not report.ok and "not signed with the audit key" in report.reason

    # The same file with a correctly signed manifest (someone holding the key): the row itself fails.
    signed.pop("hmac")
    signed["hmac"] = chain.sign(signed, audit_key())
    manifest_path.write_text(json.dumps(signed))
    report = verify_chain_report()
    assert (report.ok, report.broken_at) == (False, rows[3]["id"]) and manifest["file"] in report.reason


def test_retention_zero_keeps_everything_and_the_beat_job_is_scheduled(
    settings: Any, archive_dir: Path
) -> None:
    _chained_rows(5, created=timezone.now() - timedelta(days=4000))
    settings.PORTICO_AUDIT_RETENTION_DAYS = 0
    assert archive.archive_expired() == [] and AuditEvent.objects.filter(verb="test.bulk").count() == 5
    assert settings.CELERY_BEAT_SCHEDULE["audit-archive"]["task"] == "portal.audit.archive"
    from portal.celery import app

    app.loader.import_default_modules()
    assert "portal.audit.archive" in app.tasks


# --- the key --------------------------------------------------------------------------------------------


def test_the_deploy_check_warns_when_production_has_no_audit_key(settings: Any) -> None:
    settings.PRODUCTION, settings.PORTICO_AUDIT_KEY = True, ""
    assert [m.id for m in checks.audit_key_check()] == ["portico.audit.W001"]
    settings.PORTICO_AUDIT_KEY = "a-long-random-value"
    assert checks.audit_key_check() == []
    settings.PRODUCTION, settings.PORTICO_AUDIT_KEY = False, ""
    assert checks.audit_key_check() == []


def test_the_chain_depends_on_the_key(settings: Any) -> None:
    settings.PORTICO_AUDIT_KEY = "first-key"
    record("request.submitted")
    assert verify_chain()[0] is True
    settings.PORTICO_AUDIT_KEY = "another-key"
    assert verify_chain()[0] is False
