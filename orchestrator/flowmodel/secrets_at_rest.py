"""Secrets at rest: the one rule for how a secret value is stored in a JSON column.

A secret (a SECRET input, a value a task returns wrapped in ``Secret``, an output holding a secret) is
stored as ``{"$secret": "<Fernet token>"}`` inside the same JSON, so no column changes: whoever reads
the row without the key sees only ciphertext. It is decrypted (``reveal``) only where it is used, for
a task's template context, and replaced by ``{"$secret": null}`` (``drop``) once nothing needs it.

Keys come from ``settings.PORTICO_SECRET_KEYS`` (comma-separated Fernet keys): the first encrypts, all
decrypt, so a new key is prepended, ``manage.py rotate_secrets`` re-encrypts, and the old key goes.
Without it a key derived from ``SECRET_KEY`` is used (development). No Django model here: the flow model
stays free of the database; the state layer applies these functions to the rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from orchestrator.flowmodel import masking

MARKER = "$secret"
_lock = threading.Lock()
_cache: dict[tuple[str, ...], MultiFernet] = {}


class SecretKeyError(ValueError):
    """A sealed value cannot be decrypted with any configured key (a key was dropped too early)."""


@dataclass(frozen=True)
class Secret:
    """A value a task marks secret: ``return {"token": Secret(token)}``; it is stored encrypted."""

    value: Any


def configured_keys() -> tuple[str, ...]:
    """``PORTICO_SECRET_KEYS`` as a tuple, or one key derived from ``SECRET_KEY`` when unset (dev)."""
    raw = getattr(settings, "PORTICO_SECRET_KEYS", "") or ""
    keys = tuple(k.strip() for k in (raw.split(",") if isinstance(raw, str) else raw) if k and k.strip())
    if keys:
        return keys
    digest = hashlib.sha256(b"portico-secrets-at-rest:" + str(settings.SECRET_KEY).encode()).digest()
    return (base64.urlsafe_b64encode(digest).decode(),)


def _fernet() -> MultiFernet:
    keys = configured_keys()
    with _lock:
        found = _cache.get(keys)
        if found is None:
            found = _cache[keys] = MultiFernet([Fernet(key.encode()) for key in keys])
    return found


def is_sealed(value: Any) -> bool:
    """True for a stored secret (``{"$secret": token}``) or one already dropped (``{"$secret": null}``)."""
    return isinstance(value, dict) and len(value) == 1 and MARKER in value


def seal(value: Any) -> dict[str, str | None]:
    """The stored form of ``value`` (any JSON value); a sealed value is returned as it is."""
    if isinstance(value, Secret):
        value = value.value
    if is_sealed(value):
        return value
    token = _fernet().encrypt(json.dumps(value).encode()).decode()
    return {MARKER: token}


def _open(sealed: dict[str, Any]) -> Any:
    token = sealed[MARKER]
    if token is None:
        return None  # dropped: the secret is gone for good
    try:
        return json.loads(_fernet().decrypt(str(token).encode()))
    except InvalidToken:
        raise SecretKeyError("a stored secret cannot be decrypted with PORTICO_SECRET_KEYS") from None


def reveal(data: Any) -> Any:
    """``data`` with every sealed value decrypted; each plaintext is registered for log masking."""
    if is_sealed(data):
        value = _open(data)
        masking.register_secrets(_strings(value))
        return value
    if isinstance(data, dict):
        return {k: reveal(v) for k, v in data.items()}
    if isinstance(data, list):
        return [reveal(v) for v in data]
    return data


# How a live (not dropped) sealed value starts in a JSON column's text, on SQLite and PostgreSQL alike.
STORED_PREFIX = f'"{MARKER}": "'


def contains_sealed(data: Any) -> bool:
    """Whether ``data`` still holds an encrypted value anywhere (dropped ones do not count)."""
    return any(sealed[MARKER] is not None for sealed in _sealed_in(data))


def _sealed_in(data: Any) -> Iterator[dict[str, Any]]:
    if is_sealed(data):
        yield data
    elif isinstance(data, dict):
        for v in data.values():
            yield from _sealed_in(v)
    elif isinstance(data, list):
        for v in data:
            yield from _sealed_in(v)


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [] if value is None else [str(value)]


def seal_inputs(values: dict[str, Any], secret_ids: Iterable[str]) -> dict[str, Any]:
    """``values`` with the SECRET inputs ``secret_ids`` sealed (None stays None: nothing to hide)."""
    ids = set(secret_ids)
    return {k: (seal(v) if k in ids and v is not None else v) for k, v in values.items()}


def seal_outputs(data: Any, secrets: Iterable[str] = ()) -> Any:
    """Outputs as stored: ``Secret`` values sealed, and any string holding one of ``secrets`` (an output
    rendered from a SECRET input) sealed whole, so no plaintext secret reaches the row."""
    known = [s for s in secrets if len(s) >= masking.MIN_SECRET_LENGTH]  # as short as masking goes
    return _seal_walk(data, known)


def _seal_walk(data: Any, known: list[str]) -> Any:
    if isinstance(data, Secret):
        masking.register_secrets(_strings(data.value))
        return seal(data.value)
    if is_sealed(data):
        return data
    if isinstance(data, dict):
        return {k: _seal_walk(v, known) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_seal_walk(v, known) for v in data]
    if isinstance(data, str) and any(s in data for s in known):
        return seal(data)
    return data


def has_marked(data: Any) -> bool:
    """Whether ``data`` holds a ``Secret`` a task marked (the state layer then seals it)."""
    if isinstance(data, Secret):
        return True
    if isinstance(data, dict):
        return any(has_marked(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return any(has_marked(v) for v in data)
    return False


def drop(data: Any) -> Any:
    """``data`` with every sealed value replaced by ``{"$secret": null}``: shown masked, gone for good."""
    if is_sealed(data):
        return {MARKER: None}
    if isinstance(data, dict):
        return {k: drop(v) for k, v in data.items()}
    if isinstance(data, list):
        return [drop(v) for v in data]
    return data


def rotate(data: Any) -> Any:
    """``data`` with every sealed value re-encrypted under the first configured key."""
    if is_sealed(data):
        token = data[MARKER]
        if token is None:
            return data
        try:
            return {MARKER: _fernet().rotate(str(token).encode()).decode()}
        except InvalidToken:
            raise SecretKeyError("a stored secret cannot be decrypted with PORTICO_SECRET_KEYS") from None
    if isinstance(data, dict):
        return {k: rotate(v) for k, v in data.items()}
    if isinstance(data, list):
        return [rotate(v) for v in data]
    return data


def masked(data: Any, secrets: Iterable[str] = ()) -> Any:
    """``data`` for display: sealed values as ``MASK``, strings with ``secrets`` masked, structure kept."""
    if is_sealed(data):
        return masking.MASK
    if isinstance(data, dict):
        return {k: masked(v, secrets) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v, secrets) for v in data]
    if isinstance(data, str):
        return masking.mask(data, secrets)
    return data
