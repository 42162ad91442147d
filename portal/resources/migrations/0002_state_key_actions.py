import django.db.models.deletion
from django.db import migrations, models


def actions_from_inputs(apps, schema_editor):
    """Day-2 requests named their resource in the ``resource_id`` input: record that as a row."""
    request_model = apps.get_model("requests", "ResourceRequest")
    resource_model = apps.get_model("resources", "Resource")
    action_model = apps.get_model("resources", "ResourceAction")
    resources = {r.pk: r for r in resource_model.objects.all()}
    for request in request_model.objects.select_related("catalog_flow").iterator():
        action = (request.catalog_flow.labels or {}).get("portico.resource-action")
        value = str((request.inputs or {}).get("resource_id", ""))
        if action and value.isdigit() and int(value) in resources:
            action_model.objects.get_or_create(
                request_id=request.pk, defaults={"resource_id": int(value), "action": str(action)[:16]}
            )


def state_keys_from_names(apps, schema_editor):
    """Resources of hetzner-vm-terraform made before state keys came from the request kept theirs in
    ``hcloud-<name>``: record it, so their destroy finds the state."""
    resource_model = apps.get_model("resources", "Resource")
    for resource in resource_model.objects.filter(state_key=""):
        if (resource.actions or {}).get("destroy") == "hetzner-vm-terraform-destroy":
            resource.state_key = f"hcloud-{resource.name}"[:90]
            resource.save(update_fields=["state_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("resources", "0001_initial"),
        ("requests", "0003_request_permission_executions"),
    ]

    operations = [
        migrations.AddField(
            model_name="resource",
            name="state_key",
            field=models.CharField(blank=True, max_length=90),
        ),
        migrations.AlterField(
            model_name="resource",
            name="state",
            field=models.CharField(
                choices=[
                    ("RUNNING", "Running"),
                    ("OFF", "Powered off"),
                    ("DESTROYING", "Being destroyed"),
                    ("ATTENTION", "Needs attention"),
                    ("DESTROYED", "Destroyed"),
                ],
                db_index=True,
                default="RUNNING",
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="ResourceAction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("action", models.CharField(max_length=16)),
                (
                    "request",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="resource_action",
                        to="requests.resourcerequest",
                    ),
                ),
                (
                    "resource",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="action_requests",
                        to="resources.resource",
                    ),
                ),
            ],
        ),
        migrations.RunPython(actions_from_inputs, migrations.RunPython.noop),
        migrations.RunPython(state_keys_from_names, migrations.RunPython.noop),
    ]
