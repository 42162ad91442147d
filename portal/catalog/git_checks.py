"""What a Git source may name: the one place its repository URL, branch, folder and namespace are checked.

These values end up as arguments of a ``git`` child process, so each is refused unless it is plainly
what it claims to be: a URL of an allowed transport (https, ssh, file, scp-like ``user@host:path``, or an
absolute local path), a branch name, a relative folder. Nothing may start with ``-`` (git would read it as
an option) or hold whitespace or control characters; URLs may not carry a password (an operator grants
access with the service account's SSH key or credential helper, never a secret stored in plain text).
The model validates with these functions and the fetch checks again before it runs git, so a row
written without ``full_clean()`` cannot smuggle anything either.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

ALLOWED_SCHEMES = ("https", "ssh", "file")
# git's own allow-list of transports for the child process (GIT_ALLOW_PROTOCOL), the second line of defence.
GIT_PROTOCOLS = "https:ssh:file"
URL_MAX = 1000
# Kestra's namespace rule (orchestrator/flowmodel/parse_flow_keys.py NAMESPACE), anchored.
_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SCP_LIKE = re.compile(r"(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^\s]+)")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]")
_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]*")
_FOLDER_PART = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.+ -]*")


def _plain(value: str, what: str) -> None:
    if not value:
        raise ValidationError(f"{what} is required")
    if value.startswith("-"):
        raise ValidationError(f"{what} may not start with '-' (git would read it as an option)")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(f"{what} may not contain whitespace or control characters")


def check_repository_url(url: str) -> str:
    """``url`` if git may fetch it: https/ssh/file URLs, ``user@host:path``, or an absolute local path."""
    _plain(url, "repository URL")
    if len(url) > URL_MAX:
        raise ValidationError(f"repository URL is longer than {URL_MAX} characters")
    if url.startswith("/"):
        if ".." in PurePosixPath(url).parts:
            raise ValidationError("a local repository path may not contain '..'")
        return url
    if "://" not in url:
        scp = _SCP_LIKE.fullmatch(url)
        if scp is None or not _HOST.fullmatch(scp["host"]) or scp["path"].startswith("-"):
            raise ValidationError(
                "repository URL must be https://, ssh://, file:// or user@host:path (other transports, "
                "such as ext:: or plain http://, are refused)"
            )
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ValidationError(
            f"repository URL scheme '{parts.scheme}' is not allowed: use {', '.join(ALLOWED_SCHEMES)}"
        )
    if parts.password is not None:
        raise ValidationError(
            "repository URL may not contain a password: give the service account an SSH key or a "
            "git credential helper instead"
        )
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValidationError("a file:// URL must name an absolute local path (file:///srv/repo.git)")
        if ".." in PurePosixPath(parts.path).parts:
            raise ValidationError("a file:// URL may not contain '..'")
        return url
    host = parts.hostname or ""
    if not host or not _HOST.fullmatch(host) or (parts.username or "").startswith("-"):
        raise ValidationError("repository URL must name a host (and may not start one with '-')")
    return url


def check_branch(branch: str) -> str:
    """``branch`` if it is a plain branch name (git check-ref-format's rules, conservatively)."""
    _plain(branch, "branch")
    if (
        len(branch) > 200
        or not _BRANCH.fullmatch(branch)
        or ".." in branch
        or "//" in branch
        or branch.endswith(("/", ".", ".lock"))
        or "/." in branch
    ):
        raise ValidationError(f"'{branch}' is not a valid branch name")
    return branch


def check_subdirectory(folder: str) -> str:
    """``folder`` (relative, inside the repository) normalised; empty means the repository's root."""
    folder = folder.strip().strip("/")
    if not folder:
        return ""
    _plain(folder, "folder")
    parts = PurePosixPath(folder).parts
    if any(part in (".", "..") or not _FOLDER_PART.fullmatch(part) for part in parts):
        raise ValidationError(f"folder '{folder}' must be a relative path in the repository, without '..'")
    return "/".join(parts)


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a Kestra namespace."""
    if not _NAMESPACE.fullmatch(namespace or "") or len(namespace) > 150:
        raise ValidationError(f"'{namespace}' is not a namespace (lowercase letters, digits, '.', '_', '-')")
    return namespace


def namespace_within(namespace: str, bound: str) -> bool:
    """Whether a flow of ``namespace`` belongs to ``bound``: the namespace itself or one under it (Kestra's
    namespaces nest by their dots, as ``company.team`` holds ``company.team.db``)."""
    return namespace == bound or namespace.startswith(bound + ".")
