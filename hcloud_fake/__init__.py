"""A local fake of the Hetzner Cloud API for tests and ``make up`` (Hetzner is unreachable from here).

A dev server on its own, outside the engine: ``python -m hcloud_fake`` serves it (``make up`` starts it
for the offline default), and tests re-export it with their fixtures from ``tests/fakes``. It needs only
the standard library. The trimmed official schema beside it (``hcloud_schema.json``) is what
``tests/fakes/hcloud_schema.py`` validates recorded traffic against.
"""

from hcloud_fake.cloud import ApiError, Cloud
from hcloud_fake.faults import Fault
from hcloud_fake.server import DEFAULT_TOKEN, Exchange, HcloudFake

__all__ = ["DEFAULT_TOKEN", "ApiError", "Cloud", "Exchange", "Fault", "HcloudFake"]
