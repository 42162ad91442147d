"""Flows from Git: real repositories made with the git binary in tmp_path, bound to a namespace, synced
by the service, the beat task and the signed push webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from orchestrator.state.models import Trigger
from portal.accounts.models import User
from portal.api import present
from portal.catalog import git_checks, git_sources, tasks
from portal.catalog.models import CatalogFlow, GitSource
from portal.catalog.services import sync_flows
from portal.requests.services import submit_request

SECRET = "push-secret-of-team-a"

TEAM_FLOW = """\
id: team-vm
namespace: company.team
description: {description}
inputs:
  - id: name
    type: STRING
    defaults: web
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{{{ inputs.name }}}}"
"""

SUB_NAMESPACE_FLOW = """\
id: db
namespace: company.team.data
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""

FOREIGN_FLOW = """\
id: sneaky
namespace: company.other
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""

SCHEDULED_FLOW = """\
id: nightly
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: every-night
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str = "change") -> str:
    """Write (or, for None, delete) ``files`` and commit them; the new commit's sha."""
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def _private_data_dir(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "team-repo"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "README.md").write_text("not a flow\n")
    commit(path, {"flows/team-vm.yml": TEAM_FLOW.format(description="First")}, "first")
    return path


@pytest.fixture
def source(db: Any, repo: Path) -> GitSource:
    # An id of its own: the webhook's rate-limit counters are keyed by it, in a cache other tests share.
    row = GitSource(
        pk=uuid.uuid4().int % 10**9,
        name="team-a",
        namespace="company.team",
        repository_url=f"file://{repo}",
        subdirectory="flows",
    )
    row.set_webhook_secret(SECRET)
    row.full_clean()
    row.save()
    return row


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _push(source: GitSource, signature: str | None, body: bytes, **headers: str) -> Any:
    extra = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature is not None else {}
    return Client().post(
        f"/git-sources/{source.pk}/webhook",
        data=body,
        content_type="application/json",
        REMOTE_ADDR=f"127.0.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}",
        **extra,
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


@pytest.mark.django_db
def test_it_syncs_the_flows_of_a_bound_branch_with_their_commit(source: GitSource, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    result = git_sources.sync_source(source.pk)
    assert result.ok and result.commit == head
    flow = CatalogFlow.objects.get(namespace="company.team", flow_id="team-vm")
    assert (flow.git_source, flow.commit, flow.file, flow.active) == (source, head, "team-vm.yml", True)
    assert flow.description == "First"
    source.refresh_from_db()
    assert (source.last_commit, source.last_error) == (head, "")
    assert not CatalogFlow.objects.filter(file="README.md").exists()  # only the folder's flow files


@pytest.mark.django_db
def test_a_change_records_the_new_commit_and_a_removed_file_withdraws_its_flow(
    source: GitSource, repo: Path
) -> None:
    git_sources.sync_source(source.pk)
    second = commit(repo, {"flows/team-vm.yml": TEAM_FLOW.format(description="Second")})
    git_sources.sync_source(source.pk)
    flow = CatalogFlow.objects.get(flow_id="team-vm")
    assert (flow.description, flow.commit) == ("Second", second)
    third = commit(repo, {"flows/team-vm.yml": None, "flows/db.yml": SUB_NAMESPACE_FLOW})
    result = git_sources.sync_source(source.pk)
    assert result.report is not None and result.report.deactivated == ["company.team.team-vm"]
    assert not CatalogFlow.objects.get(flow_id="team-vm").active
    sub = CatalogFlow.objects.get(namespace="company.team.data", flow_id="db")  # a namespace under it
    assert (sub.active, sub.commit) == (True, third)


@pytest.mark.django_db
def test_the_flows_directory_and_a_git_source_never_withdraw_each_other(
    source: GitSource, flows_dir: Path
) -> None:
    sync_flows(flows_dir)
    git_sources.sync_source(source.pk)
    sync_flows(flows_dir)
    assert CatalogFlow.objects.get(flow_id="team-vm").active  # the directory sync left it alone
    git_sources.sync_source(source.pk)
    mine = CatalogFlow.objects.filter(namespace="portico.tests")
    assert mine.count() == 2 and all(f.active and f.git_source is None and f.commit == "" for f in mine)


@pytest.mark.django_db
def test_triggers_of_git_flows_survive_a_sync_of_the_flows_directory(
    source: GitSource, repo: Path, flows_dir: Path
) -> None:
    commit(repo, {"flows/nightly.yml": SCHEDULED_FLOW})
    git_sources.sync_source(source.pk)
    assert Trigger.objects.filter(namespace="company.team", flow_id="nightly").count() == 1
    sync_flows(flows_dir)
    assert Trigger.objects.filter(namespace="company.team", flow_id="nightly").count() == 1
    commit(repo, {"flows/nightly.yml": None})
    git_sources.sync_source(source.pk)
    assert not Trigger.objects.filter(namespace="company.team", flow_id="nightly").exists()


@pytest.mark.django_db
def test_it_refuses_a_flow_for_a_namespace_the_source_is_not_bound_to(source: GitSource, repo: Path) -> None:
    commit(repo, {"flows/sneaky.yml": FOREIGN_FLOW})
    result = git_sources.sync_source(source.pk)
    assert not result.ok
    assert not CatalogFlow.objects.filter(flow_id="sneaky").exists()
    assert CatalogFlow.objects.get(flow_id="team-vm").active  # the rest of the commit is synced
    source.refresh_from_db()
    assert source.last_error == (
        "flows/sneaky.yml:2: namespace: flow company.other.sneaky is outside namespace 'company.team', the "
        "only one Git source 'team-a' may define flows in"
    )


@pytest.mark.django_db
def test_it_refuses_a_flow_another_place_already_defines(
    source: GitSource, repo: Path, flows_dir: Path
) -> None:
    (flows_dir / "team-vm.yml").write_text(TEAM_FLOW.format(description="From the directory"))
    sync_flows(flows_dir)
    result = git_sources.sync_source(source.pk)
    assert result.report is not None
    assert result.report.errors[-1].endswith(
        "id: flow company.team.team-vm is already defined by the flows directory"
    )
    flow = CatalogFlow.objects.get(flow_id="team-vm")
    assert (flow.description, flow.git_source) == ("From the directory", None)


@pytest.mark.django_db
def test_a_broken_commit_keeps_the_last_good_revision(source: GitSource, repo: Path) -> None:
    good = git(repo, "rev-parse", "HEAD")
    git_sources.sync_source(source.pk)
    before = CatalogFlow.objects.get(flow_id="team-vm")
    broken = commit(repo, {"flows/team-vm.yml": "id: team-vm\nnamespace: company.team\ntasks: [\n"}, "oops")
    result = git_sources.sync_source(source.pk)
    assert result.commit == broken and not result.ok
    after = CatalogFlow.objects.get(flow_id="team-vm")
    assert (after.active, after.revision, after.commit, after.source) == (
        True,
        before.revision,
        good,
        before.source,
    )
    source.refresh_from_db()
    assert source.last_commit == broken
    assert source.last_error.startswith("flows/team-vm.yml:")


@pytest.mark.django_db
def test_a_missing_branch_is_reported_and_changes_nothing(source: GitSource) -> None:
    git_sources.sync_source(source.pk)
    GitSource.objects.filter(pk=source.pk).update(branch="release")
    result = git_sources.sync_source(source.pk)
    assert "couldn't find remote ref refs/heads/release" in result.error
    source.refresh_from_db()
    assert source.last_error == result.error and source.last_commit  # the last good commit stays
    assert CatalogFlow.objects.get(flow_id="team-vm").active


@pytest.mark.django_db
def test_a_symbolic_link_cannot_load_a_file_from_outside_the_repository(
    source: GitSource, repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(TEAM_FLOW.replace("id: team-vm", "id: stolen").format(description="server file"))
    (repo / "flows" / "link.yml").symlink_to(outside)
    commit(repo, {})
    git_sources.sync_source(source.pk)
    assert not CatalogFlow.objects.filter(flow_id="stolen").exists()  # the link is checked out as its text
    source.refresh_from_db()
    assert source.last_error.startswith("flows/link.yml:")


@pytest.mark.django_db
def test_a_new_request_records_the_commit_its_flow_came_from(
    source: GitSource, repo: Path, alice: Any, plat: Any, client: Client
) -> None:
    git_sources.sync_source(source.pk)
    first = git(repo, "rev-parse", "HEAD")
    request = submit_request(
        requester=alice, catalog_flow=CatalogFlow.objects.get(flow_id="team-vm"), data={}, cost_center=plat
    )
    assert request.flow_commit == first
    second = commit(repo, {"flows/team-vm.yml": TEAM_FLOW.format(description="Second")})
    git_sources.sync_source(source.pk)
    request.refresh_from_db()
    assert request.flow_commit == first  # a request keeps the commit it was made from
    assert present.request(request)["flow_commit"] == first
    client.force_login(alice)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f'title="{first}" data-testid="flow-commit">{first[:12]}<' in page
    newer = submit_request(
        requester=alice, catalog_flow=CatalogFlow.objects.get(flow_id="team-vm"), data={}, cost_center=plat
    )
    assert newer.flow_commit == second


@pytest.mark.django_db(transaction=True)
def test_a_signed_push_webhook_syncs_the_source(source: GitSource, repo: Path, celery_worker: Any) -> None:
    git_sources.sync_source(source.pk)
    pushed = commit(repo, {"flows/team-vm.yml": TEAM_FLOW.format(description="Pushed")})
    body = json.dumps({"ref": "refs/heads/main", "after": pushed}).encode()

    assert _push(source, _sign(body, "wrong-secret"), body).status_code == 404
    assert _push(source, None, body).status_code == 404
    assert _push(source, _sign(body).upper(), body).status_code == 404
    assert CatalogFlow.objects.get(flow_id="team-vm").description == "First"

    answer = _push(source, _sign(body), body, **{"X-GitHub-Event": "push"})
    assert answer.status_code == 202 and answer.json() == {"message": "sync queued", "source": source.pk}
    deadline = time.monotonic() + 30
    while CatalogFlow.objects.get(flow_id="team-vm").commit != pushed:
        assert time.monotonic() < deadline, "the queued sync did not run"
        time.sleep(0.05)
    assert CatalogFlow.objects.get(flow_id="team-vm").description == "Pushed"


@pytest.mark.django_db
def test_the_webhook_ignores_pushes_to_other_branches_and_answers_pings(source: GitSource) -> None:
    body = json.dumps({"ref": "refs/heads/feature"}).encode()
    answer = _push(source, _sign(body), body)
    assert (answer.status_code, answer.json()["message"]) == (200, "ignored: team-a follows branch main")
    ping = b'{"zen": "Keep it logically awesome."}'
    assert _push(source, _sign(ping), ping, **{"X-GitHub-Event": "ping"}).json() == {"message": "pong"}


@pytest.mark.django_db
def test_the_webhook_refuses_unknown_and_inactive_sources_alike(source: GitSource) -> None:
    body = b'{"ref": "refs/heads/main"}'
    GitSource.objects.filter(pk=source.pk).update(active=False)
    assert _push(source, _sign(body), body).status_code == 404
    ghost = GitSource(pk=source.pk + 1000)
    assert _push(ghost, _sign(body), body).status_code == 404
    assert Client().get(f"/git-sources/{source.pk}/webhook").status_code == 405


@pytest.mark.django_db
def test_the_webhook_is_rate_limited_per_address_then_per_source(source: GitSource, settings: Any) -> None:
    settings.PORTICO_WEBHOOK_RATE_PER_IP = 3
    settings.PORTICO_WEBHOOK_RATE_PER_KEY = 2
    address = f"127.1.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    url = f"/git-sources/{source.pk}/webhook"
    statuses = [
        Client().post(url, data=b"{}", content_type="application/json", REMOTE_ADDR=address).status_code
        for _ in range(4)
    ]
    assert statuses == [404, 404, 404, 429]
    ping = b"{}"
    signed = [_push(source, _sign(ping), ping, **{"X-GitHub-Event": "ping"}) for _ in range(3)]
    assert [r.status_code for r in signed] == [200, 200, 429] and signed[2]["Retry-After"]


@pytest.mark.django_db
def test_the_beat_job_syncs_every_active_source(source: GitSource, repo: Path, celery_worker: Any) -> None:
    tasks.sync_git_sources.apply()
    deadline = time.monotonic() + 30
    while not CatalogFlow.objects.filter(flow_id="team-vm").exists():
        assert time.monotonic() < deadline, "the beat job's sync did not run"
        time.sleep(0.05)
    assert CatalogFlow.objects.get(flow_id="team-vm").commit == git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/team/flows.git",
        "ssh://git@git.example.com:2222/team/flows.git",
        "git@git.example.com:team/flows.git",
        "file:///srv/git/flows.git",
        "/srv/git/flows.git",
    ],
)
def test_it_accepts_the_allowed_transports(url: str) -> None:
    assert git_checks.check_repository_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/pwned",
        "-u",
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "http://git.example.com/team/flows.git",
        "ftp://git.example.com/flows.git",
        "https://user:token@git.example.com/team/flows.git",
        "ssh://-oProxyCommand=touch%20pwned/x",
        "ssh://-oProxyCommand=touch@host/x",
        "git@-oProxyCommand=touch:x",
        "git@host:-x",
        "file://otherhost/srv/flows.git",
        "file:///srv/../etc",
        "relative/path.git",
        "https://git.example.com/flows.git --upload-pack=x",
        "https://git.example.com/flows.git\n",
        "",
    ],
)
def test_it_refuses_other_transports_and_option_looking_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        git_checks.check_repository_url(url)


@pytest.mark.parametrize(
    "branch", ["-b", "--upload-pack=x", "a..b", "a b", "main.lock", "feature/", "x//y", ""]
)
def test_it_refuses_option_looking_or_invalid_branches(branch: str) -> None:
    with pytest.raises(ValidationError):
        git_checks.check_branch(branch)


@pytest.mark.parametrize("folder", ["../etc", "flows/../../etc", "-x", "a\tb"])
def test_it_refuses_folders_that_leave_the_repository(folder: str) -> None:
    with pytest.raises(ValidationError):
        git_checks.check_subdirectory(folder)


@pytest.mark.django_db
def test_an_injected_row_never_reaches_git(tmp_path: Path) -> None:
    """A row written without validation (a shell, a migration) is checked again before git runs."""
    marker = tmp_path / "pwned"
    for url, branch in (
        (f"--upload-pack=touch {marker}", "main"),
        (f"ext::sh -c touch% {marker}", "main"),
        (f"file://{tmp_path}", f"--upload-pack=touch {marker}"),
    ):
        row = GitSource.objects.create(
            name=uuid.uuid4().hex, namespace="company.team", repository_url=url, branch=branch
        )
        result = git_sources.sync_source(row.pk)
        assert result.error and not result.commit
        with pytest.raises(ValidationError):
            row.full_clean()
    assert not marker.exists()
    assert not list((tmp_path / "data" / "git").glob("*/repo.git"))


@pytest.mark.django_db
def test_the_webhook_secret_is_stored_sealed(source: GitSource) -> None:
    stored = GitSource.objects.values_list("webhook_secret", flat=True).get(pk=source.pk)
    assert SECRET not in json.dumps(stored) and set(stored) == {"$secret"}
    assert source.revealed_webhook_secret() == SECRET
    assert not git_sources.signature_valid(GitSource(name="no-secret"), b"{}", _sign(b"{}", ""))


@pytest.mark.django_db
def test_an_operator_binds_a_repository_in_the_admin_and_syncs_it(repo: Path, client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    form = {
        "name": "team-b",
        "namespace": "company.team",
        "repository_url": f"file://{repo}",
        "branch": "main",
        "subdirectory": "flows",
        "active": "on",
        "new_webhook_secret": "",
    }
    refused = client.post("/admin/catalog/gitsource/add/", {**form, "repository_url": "ext::sh -c id"})
    assert refused.status_code == 200 and not GitSource.objects.exists()  # the form shows the error
    answer = client.post("/admin/catalog/gitsource/add/", form, follow=True)
    source = GitSource.objects.get(name="team-b")
    shown = [str(m) for m in answer.context["messages"] if "shown only now" in str(m)]
    assert shown == [f"Webhook secret of team-b (shown only now): {source.revealed_webhook_secret()}"]
    page = client.get(f"/admin/catalog/gitsource/{source.pk}/change/").content.decode()
    assert f"/git-sources/{source.pk}/webhook" in page and source.revealed_webhook_secret() not in page
    client.post(
        "/admin/catalog/gitsource/",
        {"action": "sync_now", "_selected_action": [source.pk]},
        follow=True,
    )
    assert CatalogFlow.objects.get(flow_id="team-vm").git_source == source
