"""Namespace files: files a platform team keeps in Git beside its flows (Kestra's namespace files).

They live under ``settings.PORTICO_NAMESPACE_FILES_DIR`` (``namespace-files/`` beside ``flows/``), one
folder per namespace, nested as the namespace's dots say: the files of ``company.team`` are in
``namespace-files/company/team/``. Every web and worker machine has them with the code, as it has the
flows, so nothing needs syncing. A flow reads its own namespace's files: ``read('scripts/x.sh')`` in a
template, or ``namespaceFiles: {enabled: true}`` on a script task, which copies them into its working
directory. Paths are relative to the namespace folder; none may leave it.
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from django.conf import settings


class NamespaceFileError(ValueError):
    """A path that is not a file of the namespace (missing, or pointing outside it)."""


def root() -> Path:
    return Path(settings.PORTICO_NAMESPACE_FILES_DIR)


def folder(namespace: str) -> Path:
    parts = [part for part in namespace.split(".") if part]
    if not parts or any(part in (".", "..") or "/" in part for part in parts):
        raise NamespaceFileError(f"invalid namespace '{namespace}'")
    return root().joinpath(*parts)


def path(namespace: str, relative: str) -> Path:
    """The file ``relative`` of ``namespace``; refuses absolute paths, ``..`` and symlinks leaving it."""
    base = folder(namespace).resolve()
    clean = PurePosixPath(str(relative).lstrip("/"))  # Kestra writes them from the namespace root
    target = (base / clean).resolve()
    if base not in target.parents:
        raise NamespaceFileError(f"'{relative}' is outside the files of namespace '{namespace}'")
    if not target.is_file():
        raise NamespaceFileError(f"namespace '{namespace}' has no file '{clean}'")
    return target


def read_text(namespace: str, relative: str) -> str:
    return path(namespace, relative).read_text(encoding="utf-8")


def matching(namespace: str, include: list[str] | None = None, exclude: list[str] | None = None) -> list[str]:
    """Relative paths of the namespace's files, filtered by Kestra's ``include``/``exclude`` globs
    (a pattern without ``/`` also matches a file's name in any folder)."""
    base = folder(namespace)
    if not base.is_dir():
        return []
    found = []
    for file in sorted(base.rglob("*")):
        if not file.is_file() or file.is_symlink():
            continue
        relative = file.relative_to(base).as_posix()
        if include and not any(_match(relative, pattern) for pattern in include):
            continue
        if exclude and any(_match(relative, pattern) for pattern in exclude):
            continue
        found.append(relative)
    return found


def _match(relative: str, pattern: str) -> bool:
    pattern = pattern.lstrip("/")
    return fnmatch(relative, pattern) or fnmatch(relative, pattern.replace("**/", "")) or (
        "/" not in pattern and fnmatch(PurePosixPath(relative).name, pattern)
    )
