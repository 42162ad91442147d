import django.db.models.deletion
from django.db import migrations, models

LABEL = "portico.request"


def links_from_labels(apps, schema_editor):
    """Existing executions were tied to requests by the ``portico.request`` label: record the tie as a row
    (the request's current execution first; a label naming a missing request is skipped)."""
    request_model = apps.get_model("requests", "ResourceRequest")
    link_model = apps.get_model("requests", "RequestExecution")
    execution_model = apps.get_model("orchestrator", "Execution")
    for request in request_model.objects.exclude(execution=None).only("pk", "execution_id"):
        link_model.objects.get_or_create(execution_id=request.execution_id, defaults={"request_id": request.pk})
    existing = set(request_model.objects.values_list("pk", flat=True))
    for execution in execution_model.objects.filter(parent__isnull=True).only("pk", "labels").iterator():
        value = str((execution.labels or {}).get(LABEL, ""))
        if value.isdigit() and int(value) in existing:
            link_model.objects.get_or_create(execution_id=execution.pk, defaults={"request_id": int(value)})


class Migration(migrations.Migration):
    dependencies = [
        ("requests", "0002_request_paused_state"),
        ("orchestrator", "0004_flow_concurrency_skipped"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="resourcerequest",
            options={"ordering": ["-created", "-id"], "permissions": [("can_request", "Can request resources")]},
        ),
        migrations.CreateModel(
            name="RequestExecution",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "execution",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="portico_request_link",
                        to="orchestrator.execution",
                    ),
                ),
                (
                    "request",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="execution_links",
                        to="requests.resourcerequest",
                    ),
                ),
            ],
        ),
        migrations.RunPython(links_from_labels, migrations.RunPython.noop),
    ]
