"""Fixtures for the tests in this folder (the fake needs no database)."""

from tests.fakes.hcloud_fake import hcloud_client, hcloud_fake

__all__ = ["hcloud_client", "hcloud_fake"]
