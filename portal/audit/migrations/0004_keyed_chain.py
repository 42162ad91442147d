"""The keyed chain: rows already written keep their plain SHA-256 links (``scheme`` sha256, never
rewritten), new rows are linked by HMAC-SHA256 under ``PORTICO_AUDIT_KEY``. A log that has rows gets the
``audit.chain_keyed`` marker as its first keyed row. On PostgreSQL the append-only trigger now lets one
DELETE through: the archiver's, in a transaction that set ``portico.audit_archiver`` (portal/audit/archive.py).
"""

from django.db import migrations, models

PLAIN_CHOICES = [("sha256", "SHA-256 (before keying)"), ("hmac-sha256", "HMAC-SHA256")]

ARCHIVER_DOOR = """
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('portico.audit_archiver', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
NO_DOOR = """
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def _run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return apply


def mark_keyed(apps, schema_editor):
    from portal.audit.services import start_keyed_chain

    start_keyed_chain(apps.get_model("audit", "AuditEvent"), apps.get_model("audit", "AuditChainHead"))


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_head")]

    operations = [
        # Existing rows get "sha256" (the column's default while it is added), new rows "hmac-sha256".
        migrations.AddField(
            model_name="auditevent",
            name="scheme",
            field=models.CharField(choices=PLAIN_CHOICES, default="sha256", max_length=16),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="scheme",
            field=models.CharField(choices=PLAIN_CHOICES, default="hmac-sha256", max_length=16),
        ),
        migrations.RunPython(_run(ARCHIVER_DOOR), _run(NO_DOOR)),
        migrations.RunPython(mark_keyed, migrations.RunPython.noop),
    ]
