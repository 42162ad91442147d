"""``manage.py portico_demo``: demo accounts and cost centers for a first look; safe to run again."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.accounts.models import CostCenter
from portal.accounts.roles import APPROVERS, REQUESTERS, ensure_roles

COST_CENTERS = [("PLAT-001", "Platform engineering"), ("DATA-002", "Data & analytics")]
# username, groups, is_staff/superuser, display name
ACCOUNTS = [
    ("requester", [REQUESTERS], False, "Riley Requester"),
    ("approver", [REQUESTERS, APPROVERS], False, "Avery Approver"),
    ("admin", [REQUESTERS, APPROVERS], True, "Ada Admin"),
]


class Command(BaseCommand):
    help = "Create demo users and two cost centers; password from $PORTICO_DEMO_PASSWORD or generated."

    @transaction.atomic
    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        ensure_roles()
        centers = []
        for code, name in COST_CENTERS:
            center, created = CostCenter.objects.get_or_create(code=code, defaults={"name": name})
            centers.append(center)
            if created:
                self.stdout.write(f"cost center {code} created")
        password = os.environ.get("PORTICO_DEMO_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        created_any = False
        for username, groups, is_admin, full_name in ACCOUNTS:
            first, last = full_name.split(" ", 1)
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@portico.example",
                    "first_name": first,
                    "last_name": last,
                    "is_staff": is_admin,
                    "is_superuser": is_admin,
                    "default_cost_center": centers[0],
                },
            )
            user.groups.add(*Group.objects.filter(name__in=groups))
            for center in centers:  # demo accounts may charge both demo cost centers
                center.members.add(user)
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
                created_any = True
                self.stdout.write(f"user {username} created")
        if created_any and generated:
            # Shown once: it is stored hashed only. Set PORTICO_DEMO_PASSWORD to choose it instead.
            self.stdout.write(self.style.WARNING(f"demo password (shown once): {password}"))
        elif not created_any:
            self.stdout.write("demo accounts already exist; passwords unchanged")
