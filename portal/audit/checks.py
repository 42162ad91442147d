"""`manage.py check --deploy`: production should keep the audit key apart from SECRET_KEY."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from .keys import key_is_configured


@checks.register(checks.Tags.security, deploy=True)
def audit_key_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if getattr(settings, "PRODUCTION", False) and not key_is_configured():
        return [
            checks.Warning(
                "PORTICO_AUDIT_KEY is not set: the audit chain's HMAC key is derived from SECRET_KEY.",
                hint="Set PORTICO_AUDIT_KEY to a long random value kept outside the database; rotating "
                "SECRET_KEY would otherwise break the verification of the audit log.",
                id="portico.audit.W001",
            )
        ]
    return []
