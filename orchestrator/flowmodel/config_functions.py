"""Template functions that read deployment configuration, so flows name it instead of containing it.

* ``secret('NAME')`` — Kestra's function. A value comes from, in this order: the secret store of
  the flow's namespace or its nearest parent that defines it (``secret_lookup``: the database store
  managed in the admin, or Vault), the settings named in ``settings.PORTICO_SECRET_SETTINGS`` (e.g.
  ``HCLOUD_TOKEN``), or, as in Kestra's open-source edition, a base64-encoded ``SECRET_NAME``
  environment variable (the name upper-cased, line breaks in the value ignored, as Kestra does). It
  is read at every render, so a changed value is used by the next task run. Every value read is
  registered for masking before it can reach a log.
* ``setting('NAME')`` — a deployment choice a flow may branch on (which Terraform module stands for
  Hetzner Cloud here), from the allow-list ``settings.PORTICO_TEMPLATE_SETTINGS``; nothing else of
  the settings is readable from a template.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any

from django.conf import settings

from orchestrator.flowmodel import masking, secret_lookup


class ConfigLookupError(Exception):
    """A template asked for configuration that is not there (the message names it, never a value)."""


def secret(name: Any) -> str:
    key = str(name)
    value = secret_lookup.find(secret_lookup.current_namespace(), key) or ""
    allowed = getattr(settings, "PORTICO_SECRET_SETTINGS", ()) or ()
    if not value and key in allowed:
        value = getattr(settings, key, "") or ""
    if not value:
        value = _from_environment(key)
    if not value:
        raise ConfigLookupError(f"secret '{key}' is not configured")
    masking.register_secrets([value])
    return value


def _from_environment(key: str) -> str:
    """Kestra OSS's ``SECRET_<KEY>`` variables: base64 values, keys compared upper-cased."""
    wanted = f"SECRET_{key.upper()}"
    encoded = next((v for k, v in os.environ.items() if k.upper() == wanted), None)
    if not encoded:
        return ""
    try:
        return base64.b64decode(re.sub(r"[\r\n]", "", encoded), validate=True).decode()
    except (binascii.Error, ValueError):
        raise ConfigLookupError(f"environment variable {wanted} is not valid base64") from None


def setting(name: Any) -> Any:
    key = str(name)
    allowed = getattr(settings, "PORTICO_TEMPLATE_SETTINGS", ()) or ()
    if key not in allowed:
        raise ConfigLookupError(f"setting '{key}' is not readable from flows (allowed: {', '.join(allowed)})")
    return getattr(settings, key)
