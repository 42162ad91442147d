"""How a stored file is cut into pieces: Kestra's rule (``StorageService.split``), shared by the
``storage.Split`` task and ``ForEachItem``'s batches.

Rows are the file's lines (``\\n`` or ``\\r\\n`` ends one); each row is written back followed by
``separator``. ``rows``: a new piece every ``rows`` rows. ``size``: a new piece once the current one
holds ``size`` bytes or more (so a piece may pass ``size`` by its last row, as in Kestra).
``partitions``: rows dealt round-robin into that many pieces; empty pieces are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?B)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


class SplitError(ValueError):
    """The split settings cannot be used; the message says which one and why."""


def parse_size(text: str | int) -> int:
    """``10MB``, ``512KB``, ``2048`` (bytes) → bytes, as Micronaut's readable sizes Kestra accepts."""
    match = _SIZE.match(str(text))
    if not match or int(match.group(1)) < 1:
        raise SplitError(f"must be a size like 10MB, got {text!r}")
    return int(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]


def rows_of(data: bytes) -> list[bytes]:
    """The rows as Java's ``readLine`` reads them: without their line end; no row after a final one."""
    if not data:
        return []
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def split(
    data: bytes,
    *,
    rows: int | None = None,
    size: int | None = None,
    partitions: int | None = None,
    separator: bytes = b"\n",
) -> list[bytes]:
    """The pieces of ``data`` by the first limit given: ``size``, then ``partitions``, then ``rows``
    (Kestra's order of precedence)."""
    lines = rows_of(data)
    if size is not None:
        return _sequential(lines, separator, lambda count, length: length >= size)
    if partitions is not None:
        if partitions < 1:
            raise SplitError("partitions must be at least 1")
        pieces: list[list[bytes]] = [[] for _ in range(partitions)]
        for index, line in enumerate(lines):
            pieces[index % partitions].append(line + separator)
        return [b"".join(piece) for piece in pieces if piece]
    if rows is not None:
        if rows < 1:
            raise SplitError("rows must be at least 1")
        return _sequential(lines, separator, lambda count, length: count >= rows)
    raise SplitError("give one of bytes, partitions or rows")


def _sequential(lines: Iterable[bytes], separator: bytes, full: Callable[[int, int], bool]) -> list[bytes]:
    pieces: list[bytes] = []
    current: list[bytes] = []
    count = length = 0
    for line in lines:
        if current and full(count, length):
            pieces.append(b"".join(current))
            current, count, length = [], 0, 0
        current.append(line + separator)
        count += 1
        length += len(line) + len(separator)
    if current:
        pieces.append(b"".join(current))
    return pieces
