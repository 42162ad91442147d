"""Secret masking: the one place that knows which strings must never reach a log.

Secret values (SECRET inputs, API tokens) are registered per process as they become known; every log
line the engine stores and every record Python logging emits passes through ``mask``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MASK = "******"
MIN_SECRET_LENGTH = 3  # masking one- or two-character values would shred ordinary text
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secrets(values: Iterable[object]) -> None:
    """Remember secret values so later log output has them replaced by ``MASK``."""
    with _lock:
        for value in values:
            text = "" if value is None else str(value)
            if len(text) >= MIN_SECRET_LENGTH:
                _secrets.add(text)


def known_secrets() -> list[str]:
    """The secret values this process has seen (``secret()`` reads, tokens): outputs holding one are
    sealed before they are stored, like those holding a SECRET input."""
    with _lock:
        return list(_secrets)


def mask(text: str, extra: Iterable[object] = (), *, per_character: bool = False) -> str:
    """Return ``text`` with every known secret (and any in ``extra``) replaced by ``MASK``, or, with
    ``per_character``, by one ``*`` per character as Kestra's run-context logger writes log lines."""
    candidates = set(_secrets)
    candidates.update(str(v) for v in extra if v is not None and len(str(v)) >= MIN_SECRET_LENGTH)
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted(candidates, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "*" * len(secret) if per_character else MASK)
    return text


class MaskSecretsFilter(logging.Filter):
    """Logging filter applying ``mask`` to the fully formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = mask(record.getMessage())
            record.args = None
        return True
