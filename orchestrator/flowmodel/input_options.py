"""Dynamic choices for SELECT/MULTISELECT inputs: ``portico.options: <provider>`` in a flow input.

Kestra's own ``expression`` key renders a template into the list of values; Portico keeps templates
out of option lists and names a registered *provider* instead (e.g. ``hcloud.server_types``), so the
flow file says what it means and the loader can reject an unknown provider. The same provider answers
when the form is drawn and when a submitted value is checked (``inputs.coerce``), so both agree.
Providers cache their answers themselves (they know how stale they may be).
"""

from __future__ import annotations

from collections.abc import Callable

OPTIONS_KEY = "portico.options"

Option = tuple[str, str]  # (value, label shown in a form)
Provider = Callable[[], list[Option]]

_providers: dict[str, Provider] = {}


class OptionsUnavailable(Exception):
    """The provider could not produce its list (API down, no token); the message says why."""


def register(name: str) -> Callable[[Provider], Provider]:
    def decorator(fn: Provider) -> Provider:
        _providers[name] = fn
        return fn

    return decorator


def known(name: str) -> bool:
    return name in _providers


def names() -> list[str]:
    return sorted(_providers)


def options(name: str) -> list[Option]:
    """The provider's current (value, label) pairs; any failure becomes ``OptionsUnavailable``."""
    provider = _providers.get(name)
    if provider is None:
        raise OptionsUnavailable(f"unknown options provider '{name}'")
    try:
        return list(provider())
    except OptionsUnavailable:
        raise
    except Exception as exc:  # a provider talks to the outside world: report, never crash a form
        raise OptionsUnavailable(f"{name}: {exc}") from exc
