"""API fixtures: alice requests (team-a), bob approves, mallory requests too, nobody has no role;
flows in two namespaces so token scopes can be told apart; tokens made through the real service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from portal.accounts.models import CostCenter, User
from portal.accounts.roles import APPROVERS, REQUESTERS, ensure_roles
from portal.api import tokens
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows

NEEDS_APPROVAL = """\
id: vm
namespace: team-a.infra
description: A VM, after an approver says yes.
inputs:
  - id: name
    type: STRING
    validator: "^[a-z][a-z0-9-]{2,30}$"
  - id: size
    type: SELECT
    values: [small, large]
    defaults: small
  - id: password
    type: SECRET
    required: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Provisioning {{ inputs.name }} ({{ inputs.size }})"
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "Done with {{ inputs.name }}"
"""

OTHER_TEAM = """\
id: db
namespace: team-b
description: A database for team b.
inputs:
  - id: name
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "db {{ inputs.name }}"
"""


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def plat(db: Any) -> CostCenter:
    return CostCenter.objects.create(code="PLAT-001", name="Platform")


def make_user(username: str, groups: list[str], cost_center: CostCenter | None = None) -> User:
    ensure_roles()
    user = User.objects.create_user(
        username, f"{username}@example.com", "pw", default_cost_center=cost_center
    )
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def alice(plat: CostCenter) -> User:
    return make_user("alice", [REQUESTERS], plat)


@pytest.fixture
def bob(plat: CostCenter) -> User:
    return make_user("bob", [REQUESTERS, APPROVERS], plat)


@pytest.fixture
def mallory(plat: CostCenter) -> User:
    return make_user("mallory", [REQUESTERS], plat)


@pytest.fixture
def catalog(db: Any, tmp_path: Path) -> dict[str, CatalogFlow]:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "vm.yml").write_text(NEEDS_APPROVAL)
    (directory / "db.yml").write_text(OTHER_TEAM)
    report = sync_flows(directory)
    assert report.ok, report.errors
    return {f.flow_id: f for f in CatalogFlow.objects.all()}


@pytest.fixture
def bearer() -> Callable[..., Client]:
    """``bearer(user, verbs=[...], namespaces=[...])``: a test client sending a fresh token of ``user``."""

    def make(user: User, *, verbs: list[str] | None = None, namespaces: list[str] | None = None) -> Client:
        issued = tokens.do_create_token(
            user, name="test", namespaces=namespaces or ["*"], verbs=verbs or list(tokens.VERBS)
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {issued.plain}")
        client.token = issued  # type: ignore[attr-defined]
        return client

    return make
