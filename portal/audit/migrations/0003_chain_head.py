"""Create the chain head up front, so the very first two concurrent events cannot race to create it."""

from django.db import migrations

GENESIS_HASH = "0" * 64


def create_head(apps, schema_editor):
    head_model = apps.get_model("audit", "AuditChainHead")
    event_model = apps.get_model("audit", "AuditEvent")
    last = event_model.objects.order_by("-id").first()
    head_model.objects.get_or_create(pk=1, defaults={"last_hash": last.hash if last else GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
