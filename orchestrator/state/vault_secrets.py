"""HashiCorp Vault as the secret backend (``PORTICO_SECRET_BACKEND=vault``; ``pip install 'portico[vault]'``).

Layout, in Vault's KV secrets engine version 2 (the one Kestra supports): one Vault secret per namespace
at ``<PORTICO_VAULT_MOUNT>/<PORTICO_VAULT_PATH_PREFIX>/<namespace>``, whose keys are the secret names::

    vault kv put -mount=secret portico/company HCLOUD_TOKEN=... DB_PASSWORD=...

Each read asks Vault (token auth, ``PORTICO_VAULT_TOKEN``); nothing is cached, so a new version is used
by the next task run. A namespace with no Vault secret, or whose latest version is deleted, has none of
its own (its parents may). Any other failure (no address, permission denied, Vault down) fails the
render with a message that names the namespace and the reason, never a value.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from orchestrator.flowmodel.config_functions import ConfigLookupError

try:  # the optional ``vault`` extra
    import hvac
    import hvac.exceptions
    import requests
except ImportError:  # pragma: no cover - exercised only where the extra is missing
    hvac = None

TIMEOUT_SECONDS = 10


def _client() -> Any:
    if hvac is None:
        raise ConfigLookupError("PORTICO_SECRET_BACKEND=vault needs hvac: pip install 'portico[vault]'")
    address = str(getattr(settings, "PORTICO_VAULT_ADDR", "") or "")
    if not address:
        raise ConfigLookupError("PORTICO_SECRET_BACKEND=vault needs PORTICO_VAULT_ADDR")
    token = str(getattr(settings, "PORTICO_VAULT_TOKEN", "") or "") or None
    return hvac.Client(url=address, token=token, timeout=TIMEOUT_SECONDS)


def path_of(namespace: str) -> str:
    prefix = str(getattr(settings, "PORTICO_VAULT_PATH_PREFIX", "portico") or "").strip("/")
    return f"{prefix}/{namespace}" if prefix else namespace


def value(namespace: str, name: str) -> str | None:
    """``name`` from ``namespace``'s Vault secret (latest version), or None when it has none."""
    mount = str(getattr(settings, "PORTICO_VAULT_MOUNT", "secret") or "secret").strip("/")
    client = _client()
    try:
        response = client.secrets.kv.v2.read_secret_version(
            path=path_of(namespace), mount_point=mount, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None  # no secret for this namespace (or its latest version is deleted)
    except (hvac.exceptions.VaultError, requests.RequestException) as exc:
        reason = type(exc).__name__ if isinstance(exc, requests.RequestException) else str(exc).strip()
        raise ConfigLookupError(
            f"Vault could not be read for namespace '{namespace}': {reason or type(exc).__name__}"
        ) from None
    data = ((response or {}).get("data") or {}).get("data") or {}
    found = data.get(name) if isinstance(data, dict) else None
    return None if found is None else str(found)
