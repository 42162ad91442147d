"""``PORTICO_OIDC_PROVIDERS`` and ``PORTICO_OIDC_ROLE_MAP`` as settings.py reads them.

Pure Python (no Django import): settings.py calls it while it is being loaded. A wrong value stops the
process at start with the reason, never a provider half-configured at the first login.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
_REQUIRED = ("id", "name", "issuer", "client_id", "client_secret")
_OPTIONAL = ("scope", "groups_claim", "link_by_email", "pkce", "token_auth_method")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
DEFAULT_SCOPE = ("openid", "profile", "email")


def _fail(message: str) -> None:
    raise ValueError(f"PORTICO_OIDC_PROVIDERS: {message}")


def _check_issuer(issuer: str, where: str) -> None:
    parts = urlsplit(issuer)
    # Plain HTTP only on this machine (a provider in a test or on a laptop): anywhere else the discovery
    # document and the keys that sign the tokens would travel unprotected.
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        if parts.netloc and not parts.query and not parts.fragment:
            return
    _fail(f"{where}: issuer must be an https:// URL without query (http:// only for localhost): {issuer!r}")


def _provider(entry: Any, index: int) -> dict[str, Any]:
    where = f"provider #{index + 1}"
    if not isinstance(entry, dict):
        _fail(f"{where} must be an object")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        _fail(f"{where}: unknown keys {unknown} (known: {list(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            _fail(f"{where}: {key!r} is required (a non-empty string)")
    if not _PROVIDER_ID.match(entry["id"]):
        _fail(f"{where}: id must be 1-30 lowercase letters, digits or dashes: {entry['id']!r}")
    _check_issuer(entry["issuer"], where)
    scope = entry.get("scope", list(DEFAULT_SCOPE))
    if (
        not (isinstance(scope, list) and all(isinstance(s, str) and s for s in scope))
        or "openid" not in scope
    ):
        _fail(f"{where}: scope must be a list of strings including 'openid'")
    groups_claim = entry.get("groups_claim")
    if groups_claim is not None and (not isinstance(groups_claim, str) or not groups_claim):
        _fail(f"{where}: groups_claim must be a claim name (dots reach into objects: realm_access.roles)")
    for flag in ("link_by_email", "pkce"):
        if flag in entry and not isinstance(entry[flag], bool):
            _fail(f"{where}: {flag} must be true or false")
    method = entry.get("token_auth_method")
    if method is not None and method not in ("client_secret_basic", "client_secret_post"):
        _fail(f"{where}: token_auth_method must be client_secret_basic or client_secret_post")
    return entry


def parse_providers(raw: str) -> list[dict[str, Any]]:
    """The providers of ``PORTICO_OIDC_PROVIDERS`` (a JSON list), checked; empty text means none."""
    if not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"PORTICO_OIDC_PROVIDERS is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        _fail("must be a JSON list of provider objects")
    providers = [_provider(entry, index) for index, entry in enumerate(value)]
    ids = [p["id"] for p in providers]
    if len(set(ids)) != len(ids):
        _fail(f"provider ids must be unique: {ids}")
    return providers


def parse_role_map(raw: str) -> dict[str, list[str]]:
    """``PORTICO_OIDC_ROLE_MAP``: claim value → Portico group names (one name: a list of one)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"PORTICO_OIDC_ROLE_MAP is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError('PORTICO_OIDC_ROLE_MAP must be a JSON object like {"portal-admins": ["approvers"]}')
    role_map: dict[str, list[str]] = {}
    for claim_value, groups in value.items():
        groups = [groups] if isinstance(groups, str) else groups
        if not (isinstance(groups, list) and all(isinstance(g, str) and 0 < len(g) <= 150 for g in groups)):
            raise ValueError(f"PORTICO_OIDC_ROLE_MAP[{claim_value!r}] must be a group name or a list of them")
        role_map[claim_value] = list(groups)
    return role_map


def socialaccount_providers(providers: list[dict[str, Any]], *, default_groups_claim: str) -> dict[str, Any]:
    """allauth's ``SOCIALACCOUNT_PROVIDERS``: an openid_connect app per provider, on our class."""
    apps = []
    for p in providers:
        app_settings: dict[str, Any] = {
            "server_url": p["issuer"],
            "issuer": p["issuer"],
            "scope": list(p.get("scope", DEFAULT_SCOPE)),
            "oauth_pkce_enabled": p.get("pkce", True),
            "groups_claim": p.get("groups_claim") or default_groups_claim,
            # Sign-in by a verified email of an existing local account links that account; off unless
            # the provider is trusted to vouch for email addresses.
            "email_authentication": p.get("link_by_email", False),
        }
        if p.get("token_auth_method"):
            app_settings["token_auth_method"] = p["token_auth_method"]
        apps.append(
            {
                "provider_id": p["id"],
                "name": p["name"],
                "client_id": p["client_id"],
                "secret": p["client_secret"],
                "settings": app_settings,
            }
        )
    return {
        "openid_connect": {
            "provider_class": "portal.accounts.sso.provider.PorticoOIDCProvider",
            "APPS": apps,
        }
    }
