"""Namespace secrets: the store ``{{ secret('NAME') }}`` reads first, and the one writer of it.

Values are kept in ``NamespaceSecret.sealed``, encrypted with ``secrets_at_rest`` (``PORTICO_SECRET_KEYS``;
``rotate_secrets`` re-encrypts them with every other sealed column). Writes go through ``set_secret`` and
``delete_secret``: they lock the row, and send ``namespace_secret_changed`` in the same transaction with
the name only, so the portal's audit row commits with the change and never holds the value.

Reads happen at every render (no cache): a value changed in the admin is used by the next task run,
without restarting anything. ``PORTICO_SECRET_BACKEND`` chooses where reads go, at each read:
``database`` (this store) or ``vault`` (``vault_secrets``, HashiCorp Vault's KV v2). Namespace
inheritance is ``flowmodel.secret_lookup``'s rule; a lookup here answers for one namespace only.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction

from orchestrator.flowmodel import secret_lookup, secrets_at_rest
from orchestrator.flowmodel.config_functions import ConfigLookupError
from orchestrator.flowmodel.parse_flow_keys import NAMESPACE
from orchestrator.state import vault_secrets
from orchestrator.state.models import NamespaceSecret
from orchestrator.state.signals import namespace_secret_changed

BACKENDS = ("database", "vault")
NAME = re.compile(r"[A-Za-z0-9_.-]+")  # what a secret('...') call names; no spaces, slashes or quotes
MAX_VALUE_CHARS = 64 * 1024  # a token, a key file; not a document


class SecretStoreError(ValueError):
    """A name, namespace or value the store refuses (the message never contains the value)."""


def backend() -> str:
    name = str(getattr(settings, "PORTICO_SECRET_BACKEND", "database") or "database")
    if name not in BACKENDS:
        raise SecretStoreError(f"PORTICO_SECRET_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
    return name


def check(namespace: str, name: str, value: str | None = None) -> None:
    """Refuse what cannot be stored or looked up; ``value`` None means "not changing it"."""
    if not NAMESPACE.fullmatch(namespace or "") or len(namespace) > 255:
        raise SecretStoreError(f"namespace {namespace[:80]!r} is not a valid namespace (a-z, 0-9, . _ -)")
    if not NAME.fullmatch(name or "") or len(name) > secret_lookup.MAX_NAME_LENGTH:
        raise SecretStoreError(f"name {name[:80]!r} is not a valid secret name (A-Z, a-z, 0-9, . _ -)")
    if value is not None:
        if value == "":
            raise SecretStoreError("a secret needs a value")
        if len(value) > MAX_VALUE_CHARS:
            raise SecretStoreError(f"a secret value may be at most {MAX_VALUE_CHARS} characters")


def _actor(user: Any) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""


def set_secret(namespace: str, name: str, value: str, *, user: Any = None) -> NamespaceSecret:
    """Create or replace ``namespace``'s secret ``name``; the next render reads the new value."""
    check(namespace, name, value)
    with transaction.atomic():
        row = NamespaceSecret.objects.select_for_update().filter(namespace=namespace, name=name).first()
        action = "created" if row is None else "replaced"
        if row is None:
            row = NamespaceSecret(namespace=namespace, name=name)
        row.sealed = secrets_at_rest.seal(value)
        row.updated_by = _actor(user)
        row.save()
        namespace_secret_changed.send(
            sender=NamespaceSecret, secret_id=row.pk, namespace=namespace, name=name, action=action, user=user
        )
    return row


def delete_secret(row: NamespaceSecret, *, user: Any = None) -> None:
    """Remove a secret; flows reading it then fall back to a parent namespace or the environment."""
    with transaction.atomic():
        deleted, _ = NamespaceSecret.objects.filter(pk=row.pk).delete()
        if deleted:
            namespace_secret_changed.send(
                sender=NamespaceSecret,
                secret_id=row.pk,
                namespace=row.namespace,
                name=row.name,
                action="deleted",
                user=user,
            )


def database_value(namespace: str, name: str) -> str | None:
    sealed = NamespaceSecret.objects.filter(namespace=namespace, name=name).values_list("sealed", flat=True)
    found = sealed.first()
    if found is None:
        return None
    try:
        return str(secrets_at_rest.reveal(found))
    except secrets_at_rest.SecretKeyError:
        raise ConfigLookupError(
            f"secret '{name}' of namespace '{namespace}' cannot be decrypted with PORTICO_SECRET_KEYS"
        ) from None


def lookup(namespace: str, name: str) -> str | None:
    """``secret_lookup``'s lookup: the value stored for exactly ``namespace``, from the chosen backend."""
    if backend() == "vault":
        return vault_secrets.value(namespace, name)
    return database_value(namespace, name)


def connect() -> None:
    """Called once from ``OrchestratorConfig.ready``: ``secret()`` asks this store from now on."""
    secret_lookup.register(lookup)
