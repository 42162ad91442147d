"""Portal fixtures: alice requests, bob and charlie approve, mallory has no role; two cost centers;
a catalog synced from a temporary flows directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from portal.accounts.models import CostCenter, User
from portal.accounts.roles import APPROVERS, REQUESTERS, ensure_roles
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows

ALL_INPUTS_FLOW = """\
id: all-inputs
namespace: portico.tests
description: A flow declaring every input type the form supports.
labels:
  team: platform
inputs:
  - id: name
    type: STRING
    validator: "^[a-z][a-z0-9-]{2,30}$"
    description: Server name
  - id: count
    type: INT
    min: 1
    max: 5
    defaults: 1
  - id: ratio
    type: FLOAT
    required: false
  - id: backup
    type: BOOL
    defaults: false
  - id: size
    type: SELECT
    values: [small, medium, large]
    defaults: small
  - id: regions
    type: MULTISELECT
    values: [fsn1, nbg1, hel1]
    required: false
  - id: expires
    type: DATE
    required: false
  - id: window
    type: DATETIME
    required: false
  - id: owner
    type: EMAIL
  - id: token
    type: SECRET
  - id: settings
    type: JSON
    required: false
  - id: docs
    type: URI
    required: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Provisioning {{ inputs.name }} x{{ inputs.count }}"
"""

QUICK_FLOW = """\
id: quick
namespace: portico.tests
description: Needs no approval.
labels:
  portico.approval: none
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}"
"""

VALID_INPUTS = {
    "name": "web-1",
    "count": "2",
    "backup": "on",
    "size": "medium",
    "owner": "alice@example.com",
    "token": "s3cr3t-value",
}


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """PBKDF2 at production strength costs ~0.4 s per user; these tests are not about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "all-inputs.yml").write_text(ALL_INPUTS_FLOW)
    (directory / "quick.yml").write_text(QUICK_FLOW)
    return directory


@pytest.fixture
def roles(db: Any) -> None:
    ensure_roles()


@pytest.fixture
def plat(db: Any) -> CostCenter:
    return CostCenter.objects.create(code="PLAT-001", name="Platform")


@pytest.fixture
def data_cc(db: Any) -> CostCenter:
    return CostCenter.objects.create(code="DATA-002", name="Data")


def make_user(username: str, groups: list[str], cost_center: CostCenter | None = None) -> User:
    email = f"{username}@example.com"
    user = User.objects.create_user(username, email, "pw", default_cost_center=cost_center)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def alice(roles: None, plat: CostCenter) -> User:
    return make_user("alice", [REQUESTERS], plat)


@pytest.fixture
def bob(roles: None, plat: CostCenter) -> User:
    return make_user("bob", [REQUESTERS, APPROVERS], plat)


@pytest.fixture
def charlie(roles: None) -> User:
    return make_user("charlie", [APPROVERS])


@pytest.fixture
def mallory(roles: None) -> User:
    return make_user("mallory", [REQUESTERS])


@pytest.fixture
def catalog(db: Any, flows_dir: Path) -> dict[str, CatalogFlow]:
    report = sync_flows(flows_dir)
    assert report.ok, report.errors
    return {f.flow_id: f for f in CatalogFlow.objects.all()}
