from django.conf import settings
from django.db import migrations, models


def members_from_history(apps, schema_editor):
    """Keep today's requesters working: who owns a cost center, has it as default, or already charged it
    becomes a member; and the requesters' group gets the new request permission."""
    from portal.accounts.roles import ensure_roles

    ensure_roles(apps)
    cost_center_model = apps.get_model("accounts", "CostCenter")
    user_model = apps.get_model("accounts", "User")
    request_model = apps.get_model("requests", "ResourceRequest")
    for cost_center in cost_center_model.objects.all():
        users = set(user_model.objects.filter(default_cost_center=cost_center).values_list("pk", flat=True))
        users |= set(
            request_model.objects.filter(cost_center=cost_center).values_list("requester_id", flat=True)
        )
        if cost_center.owner_id:
            users.add(cost_center.owner_id)
        cost_center.members.add(*users)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_costcenter_monthly_budget"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("requests", "0003_request_permission_executions"),
    ]

    operations = [
        migrations.AddField(
            model_name="costcenter",
            name="members",
            field=models.ManyToManyField(
                blank=True,
                help_text="May charge it.",
                related_name="member_cost_centers",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="costcenter",
            name="member_groups",
            field=models.ManyToManyField(
                blank=True,
                help_text="Every user of these groups may charge it.",
                related_name="cost_centers",
                to="auth.group",
            ),
        ),
        migrations.AddField(
            model_name="costcenter",
            name="approvers",
            field=models.ManyToManyField(
                blank=True,
                help_text=(
                    "Approvers scoped to this cost center: they decide only on the cost centers listing them."
                ),
                related_name="approval_scopes",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(members_from_history, migrations.RunPython.noop),
    ]
