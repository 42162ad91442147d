"""A local fake of the Hetzner Cloud API for tests and ``make up`` (Hetzner is unreachable from here).

It lives in an importable package, not under tests/, because ``manage.py hcloud_fake`` must import it;
tests re-export it from ``tests/fakes``. The trimmed official schema beside it (``hcloud_schema.json``)
is what ``schema.py`` validates recorded traffic against.
"""

from .cloud import ApiError, Cloud
from .faults import Fault
from .server import DEFAULT_TOKEN, Exchange, HcloudFake

__all__ = ["DEFAULT_TOKEN", "ApiError", "Cloud", "Exchange", "Fault", "HcloudFake"]
