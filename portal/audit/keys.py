"""The key of the audit chain's HMAC, kept outside the database.

A database writer who can recompute a plain hash chain could rewrite history unnoticed; with the rows
chained by HMAC-SHA256 under a key the database never holds, they cannot. ``PORTICO_AUDIT_KEY`` is that
key; unset (development), one is derived from ``SECRET_KEY``, and ``checks.audit_key_check`` warns when
production runs so. Changing the key breaks the verification of every row written under the old one.
"""

from __future__ import annotations

import hashlib

from django.conf import settings


def key_is_configured() -> bool:
    return bool((getattr(settings, "PORTICO_AUDIT_KEY", "") or "").strip())


def audit_key() -> bytes:
    """``PORTICO_AUDIT_KEY`` as bytes, or a key derived from ``SECRET_KEY`` when it is unset."""
    configured = (getattr(settings, "PORTICO_AUDIT_KEY", "") or "").strip()
    if configured:
        return configured.encode()
    return hashlib.sha256(b"portico-audit-chain:" + str(settings.SECRET_KEY).encode()).digest()
