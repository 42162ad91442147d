"""Celery tasks of the catalog: syncing Git sources (by id; syncing the same commit again changes nothing)."""

from __future__ import annotations

from celery import shared_task

from . import git_sources
from .models import GitSource

SYNC_GIT_SOURCE = "portal.catalog.sync_git_source"


@shared_task(name=SYNC_GIT_SOURCE, acks_late=True)
def sync_git_source(source_id: int) -> None:
    git_sources.sync_source(source_id)


@shared_task(name="portal.catalog.sync_git_sources", acks_late=True)
def sync_git_sources() -> None:
    """The beat job: one sync task per active source, so a slow repository does not hold up the others."""
    for source_id in GitSource.objects.filter(active=True).values_list("pk", flat=True):
        sync_git_source.delay(source_id)
