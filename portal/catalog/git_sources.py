"""Flows from Git: fetch a source's branch and sync its flows into the catalog, and check push webhooks.

Fetching runs the ``git`` binary as a child process rather than a library: it is the implementation
every Git host is tested against (https with credential helpers, ssh with the service account's keys and
known_hosts, shallow fetches), it needs no new dependency, and a child process can be given a timeout
and a clean environment. It is called with an argument list (no shell), ``--end-of-options`` before the
URL, only the transports ``git_checks`` allows (also enforced by git itself through
``GIT_ALLOW_PROTOCOL``), no terminal prompt, and symbolic links checked out as plain files, so a
repository cannot point a flow file at one of the server's own files.

Each source has ``DATA_DIR/git/<id>/``: ``repo.git`` (a bare repository holding only the last fetched
commit, ``--depth 1``) and ``tree`` (that commit checked out). A file lock serialises the syncs of one
source on one machine (the beat job and a webhook may coincide).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import git_checks
from .models import GitSource
from .services import SyncReport, sync_flows

FETCHED_REF = "refs/portico/fetched"
SIGNATURE_HEADER = "X-Hub-Signature-256"  # GitHub's (also sent by Gitea and Forgejo)
_MAX_ERROR_CHARS = 20_000


class GitError(Exception):
    """git failed (unreachable repository, missing branch, timeout); the message says what git said."""


@dataclass
class GitSyncResult:
    commit: str = ""
    report: SyncReport | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and (self.report is None or self.report.ok)


def source_dir(source: GitSource) -> Path:
    return Path(settings.DATA_DIR) / "git" / str(source.pk)


def _environment() -> dict[str, str]:
    """Only what git needs: no inherited ``GIT_*`` variable can redirect it, nothing may prompt."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        # The service account's home: its SSH keys, known_hosts and git credential helper grant access.
        "HOME": os.environ.get("HOME", str(settings.DATA_DIR)),
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": git_checks.GIT_PROTOCOLS,
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _git(*args: str, git_dir: Path, work_tree: Path | None = None) -> str:
    command = ["git", f"--git-dir={git_dir}"]
    if work_tree is not None:
        command.append(f"--work-tree={work_tree}")
    command += ["-c", "core.symlinks=false", "-c", "core.hooksPath=/dev/null", *args]
    try:
        done = subprocess.run(  # noqa: S603 - an argument list of checked values, no shell
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=settings.PORTICO_GIT_TIMEOUT_SECONDS,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {settings.PORTICO_GIT_TIMEOUT_SECONDS:g} s") from None
    except FileNotFoundError:
        raise GitError("the git program is not installed on this machine") from None
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed: {done.stderr.strip()[-2000:] or done.returncode}")
    return done.stdout.strip()


def fetch(source: GitSource) -> tuple[str, Path]:
    """Fetch the tip of the source's branch and check it out; its commit sha and the flows folder."""
    url = git_checks.check_repository_url(source.repository_url)
    branch = git_checks.check_branch(source.branch)
    folder = git_checks.check_subdirectory(source.subdirectory)
    base = source_dir(source)
    git_dir, tree = base / "repo.git", base / "tree"
    if not (git_dir / "HEAD").is_file():
        base.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", git_dir=git_dir)
    _git(
        "fetch", "--quiet", "--no-tags", "--depth=1", "--end-of-options",
        url, f"+refs/heads/{branch}:{FETCHED_REF}",
        git_dir=git_dir,
    )  # fmt: skip
    commit = _git("rev-parse", "--verify", "--end-of-options", f"{FETCHED_REF}^{{commit}}", git_dir=git_dir)
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    _git("checkout", "--force", "--quiet", "--detach", commit, git_dir=git_dir, work_tree=tree)
    flows = (tree / folder).resolve() if folder else tree.resolve()
    if flows != tree.resolve() and tree.resolve() not in flows.parents:
        raise GitError(f"folder '{folder}' leaves the repository")
    if not flows.is_dir():
        raise GitError(f"branch '{branch}' has no folder '{folder}' at commit {commit[:12]}")
    return commit, flows


@contextmanager
def _locked(source: GitSource) -> Iterator[None]:
    base = source_dir(source)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "sync.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def sync_source(source_id: int) -> GitSyncResult:
    """Fetch one active source and sync its flows; its last commit, time and error are recorded.

    A commit with an invalid flow file keeps that flow's last good revision (and commit) in the
    catalog, as ``sync_flows`` does for the flows directory; the source's ``last_error`` says why.
    A fetch that fails changes no flow.
    """
    source = GitSource.objects.filter(pk=source_id, active=True).first()
    if source is None:
        return GitSyncResult(error="no active Git source with this id")
    result = GitSyncResult()
    with _locked(source):
        try:
            result.commit, folder = fetch(source)
            result.report = sync_flows(folder, git_source=source, commit=result.commit)
        except (GitError, ValidationError) as exc:
            result.error = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        errors = [result.error] if result.error else _relative(result.report.errors, source)
        fields = {"last_error": "\n".join(errors)[:_MAX_ERROR_CHARS], "last_synced": timezone.now()}
        if result.commit and not result.error:
            fields["last_commit"] = result.commit
        GitSource.objects.filter(pk=source.pk).update(**fields)
    return result


def _relative(errors: list[str], source: GitSource) -> list[str]:
    """Errors name files as in the repository, not as in this machine's checkout."""
    prefix = f"{(source_dir(source) / 'tree').resolve()}/"
    return [error.replace(prefix, "") for error in errors]


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def signature_valid(source: GitSource | None, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is GitHub's ``sha256=<hex HMAC of the body>`` with the source's secret.

    Compared in constant time, and computed even for an unknown source or one without a secret, so the
    answer's timing says nothing about which ids exist.
    """
    secret = source.revealed_webhook_secret() if source is not None else None
    key = (secret or "no secret: never matches").encode()
    expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    given = (signature or "").strip().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode(), given) and secret is not None
