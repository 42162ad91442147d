"""Test-side entry to the schema validator (see ``orchestrator.hcloud_fake.schema``)."""

from orchestrator.hcloud_fake.schema import ERRATA, SCHEMA_PATH, HcloudSchema, SchemaViolation, hcloud_schema

__all__ = ["ERRATA", "SCHEMA_PATH", "HcloudSchema", "SchemaViolation", "hcloud_schema"]
