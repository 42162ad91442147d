"""Roles, demo accounts, and the admin pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from portal.accounts.models import CostCenter, User
from portal.accounts.roles import APPROVE_PERMISSION, is_approver
from portal.approvals import services as approvals
from portal.requests.services import submit_request

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db


def test_it_creates_both_groups_with_the_permission_on_approvers(roles):
    approvers = Group.objects.get(name="approvers")
    assert Group.objects.filter(name="requesters").exists()
    granted = [f"{p.content_type.app_label}.{p.codename}" for p in approvers.permissions.all()]
    assert granted == [APPROVE_PERMISSION]


def test_it_creates_demo_accounts_once(monkeypatch, capsys):
    monkeypatch.setenv("PORTICO_DEMO_PASSWORD", "demo-pass-123")
    call_command("portico_demo")
    out = capsys.readouterr().out
    assert "user requester created" in out and "demo password" not in out
    assert CostCenter.objects.count() == 2
    assert is_approver(User.objects.get(username="approver"))
    assert not is_approver(User.objects.get(username="requester"))
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="requester").check_password("demo-pass-123")
    call_command("portico_demo")
    assert "already exist" in capsys.readouterr().out
    assert User.objects.count() == 3 and CostCenter.objects.count() == 2


def test_it_prints_a_generated_password_only_when_it_creates_accounts(monkeypatch, capsys):
    monkeypatch.delenv("PORTICO_DEMO_PASSWORD", raising=False)
    call_command("portico_demo")
    line = next(x for x in capsys.readouterr().out.splitlines() if "demo password" in x)
    password = line.rsplit(" ", 1)[1]
    assert User.objects.get(username="approver").check_password(password)
    call_command("portico_demo")
    assert "demo password" not in capsys.readouterr().out


def test_it_serves_every_admin_page(admin_client, catalog, alice, bob, plat):
    request = submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )
    request = approvals.approve(request.pk, acting_user=bob)
    for name in (
        "catalog_catalogflow",
        "requests_resourcerequest",
        "approvals_decision",
        "audit_auditevent",
        "orchestrator_execution",
        "orchestrator_taskrun",
        "orchestrator_logline",
        "accounts_user",
        "accounts_costcenter",
        "auth_group",
    ):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    url = reverse("admin:requests_resourcerequest_change", args=[request.pk])
    html = admin_client.get(url).content.decode()
    assert "s3cr3t-value" not in html
    url = reverse("admin:orchestrator_execution_change", args=[request.execution_id])
    assert b"s3cr3t-value" not in admin_client.get(url).content
    html = admin_client.get(reverse("admin:accounts_user_change", args=[alice.pk])).content.decode()
    assert "default_cost_center" in html
