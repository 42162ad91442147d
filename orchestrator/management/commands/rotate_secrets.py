"""``manage.py rotate_secrets``: re-encrypt every stored secret with the first of PORTICO_SECRET_KEYS.

Run after prepending a new key; once it reports no failure, the old key can be removed. It walks every
JSON column of every installed model (the portal's requests too, without the orchestrator knowing
them) and rewrites only rows holding an encrypted value.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from orchestrator.flowmodel import secrets_at_rest


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the first key of PORTICO_SECRET_KEYS (key rotation)."

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten = 0
        for model in apps.get_models():
            columns = [f.name for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
            for column in columns:
                rewritten += self._rotate(model, column)
        self.stdout.write(f"re-encrypted {rewritten} value(s) with the first key of PORTICO_SECRET_KEYS")

    def _rotate(self, model: type[models.Model], column: str) -> int:
        text = f"_{column}_text"
        rows = (
            model._default_manager.annotate(**{text: Cast(column, models.TextField())})
            .filter(**{f"{text}__contains": secrets_at_rest.STORED_PREFIX})
            .values_list("pk", column)
        )
        count = 0
        for pk, value in rows.iterator():
            try:
                rotated = secrets_at_rest.rotate(value)
            except secrets_at_rest.SecretKeyError as exc:
                raise CommandError(f"{model._meta.label} {pk} {column}: {exc}") from exc
            with transaction.atomic():
                model._default_manager.filter(pk=pk).update(**{column: rotated})
            count += 1
        return count
