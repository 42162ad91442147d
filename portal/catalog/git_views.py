"""The push webhook of a Git source: a Git host calls it after a push, and the source is synced.

Authenticated like GitHub's webhooks: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`` with the
source's secret, compared in constant time. An unknown or inactive source and a wrong signature get the
same 404. Rate-limited as the flow webhook is: per client IP before anything is read, then per source
once the signature holds (counting unsigned calls per source would let anyone block a team's pushes).
The sync itself runs in a Celery task after the answer, as a Git host waits only seconds.
"""

from __future__ import annotations

import json
from functools import partial

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.accounts.throttle import Limit, client_ip, hit

from . import git_sources, tasks
from .models import GitSource

_NOT_FOUND = {"message": "Not Found"}


def _too_many(retry_after: int) -> HttpResponse:
    response = JsonResponse({"message": "Too Many Requests"}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _pushed_ref(body: bytes) -> str | None:
    """The ``ref`` a push event names (``refs/heads/main``), if the body is a JSON object with one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    ref = payload.get("ref") if isinstance(payload, dict) else None
    return ref if isinstance(ref, str) else None


@csrf_exempt
@require_POST
def git_webhook(request: HttpRequest, source_id: int) -> HttpResponse:
    retry_after = hit("git-webhook-ip", client_ip(request), Limit(settings.PORTICO_WEBHOOK_RATE_PER_IP, 60))
    if retry_after is not None:
        return _too_many(retry_after)
    limit = int(settings.PORTICO_MAX_WEBHOOK_BODY_BYTES)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit or len(request.body) > limit:
        message = f"The request body is larger than the {limit} bytes allowed."
        return JsonResponse({"message": message}, status=413)
    source = GitSource.objects.filter(pk=source_id, active=True).first()
    signature = request.headers.get(git_sources.SIGNATURE_HEADER)
    signed = git_sources.signature_valid(source, request.body, signature)
    if source is None or not signed:
        return JsonResponse(_NOT_FOUND, status=404)
    retry_after = hit("git-webhook-source", str(source.pk), Limit(settings.PORTICO_WEBHOOK_RATE_PER_KEY, 60))
    if retry_after is not None:
        return _too_many(retry_after)
    if request.headers.get("X-GitHub-Event") == "ping":  # sent once when the webhook is created
        return JsonResponse({"message": "pong"})
    ref = _pushed_ref(request.body)
    if ref is not None and ref != f"refs/heads/{source.branch}":
        return JsonResponse({"message": f"ignored: {source} follows branch {source.branch}"})
    transaction.on_commit(partial(tasks.sync_git_source.delay, source.pk))
    return JsonResponse({"message": "sync queued", "source": source.pk}, status=202)
