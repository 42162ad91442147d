"""Template functions that read deployment configuration, so flows name it instead of containing it.

* ``secret('NAME')`` — Kestra's function. Values come from the settings named in
  ``settings.PORTICO_SECRET_SETTINGS`` (e.g. ``HCLOUD_TOKEN``) or, as in Kestra's open-source
  edition, from a base64-encoded ``SECRET_NAME`` environment variable. Every value read is
  registered for masking before it can reach a log.
* ``setting('NAME')`` — a deployment choice a flow may branch on (which Terraform module stands for
  Hetzner Cloud here), from the allow-list ``settings.PORTICO_TEMPLATE_SETTINGS``; nothing else of
  the settings is readable from a template.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from django.conf import settings

from orchestrator.flowmodel import masking


class ConfigLookupError(Exception):
    """A template asked for configuration that is not there (the message names it, never a value)."""


def secret(name: Any) -> str:
    key = str(name)
    allowed = getattr(settings, "PORTICO_SECRET_SETTINGS", ()) or ()
    value = getattr(settings, key, "") if key in allowed else ""
    if not value:
        encoded = os.environ.get(f"SECRET_{key}")
        if encoded:
            try:
                value = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, ValueError):
                raise ConfigLookupError(f"environment variable SECRET_{key} is not valid base64") from None
    if not value:
        raise ConfigLookupError(f"secret '{key}' is not configured")
    masking.register_secrets([value])
    return value


def setting(name: Any) -> Any:
    key = str(name)
    allowed = getattr(settings, "PORTICO_TEMPLATE_SETTINGS", ()) or ()
    if key not in allowed:
        raise ConfigLookupError(f"setting '{key}' is not readable from flows (allowed: {', '.join(allowed)})")
    return getattr(settings, key)
