"""What a list page costs with 10 000 rows behind it: catalog, my requests, the approval queue,
executions, resources and the audit log, unfiltered and with a typical filter.

    python bench/lists.py [--rows 10000] [--loads 20]

Fills a throwaway SQLite database (a fresh data dir) with ``--rows`` rows per list (bulk inserts, so
filling takes seconds), then loads each page ``--loads`` times through Django's test client as the
user who would look at it, and prints the median (p50) time and the number of SQL queries per load.
Not a test: it prints; a slow machine is not a failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOW = """\
id: {flow_id}
namespace: {namespace}
description: Bench flow {flow_id}.
inputs:
  - id: name
    type: STRING
  - id: size
    type: SELECT
    values: [small, large]
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hi {{{{ inputs.name }}}}"
"""
NAMESPACES = 20
COST_CENTERS = 10
REQUESTED_FLOWS = 50  # requests, resources and executions spread over this many flows
BATCH = 1000


def _setup() -> None:
    data = tempfile.mkdtemp(prefix="portico-bench-lists-")
    os.environ.update(PORTICO_DATA_DIR=data, DJANGO_SETTINGS_MODULE="portal.settings")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    call_command("migrate", interactive=False, verbosity=0)
    setup_test_environment()  # the test client's host ("testserver") is allowed


def _fill(rows: int) -> dict[str, Any]:
    """``rows`` catalog flows, requests of alice's, pending requests of others, executions, resources of
    alice's (a third destroyed) and audit events; returns the users and a few ids the filters use."""
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from orchestrator.state.models import Execution, State
    from portal.accounts.models import CostCenter, User
    from portal.accounts.roles import APPROVERS, REQUESTERS, ensure_roles
    from portal.audit.models import AuditEvent
    from portal.catalog.models import CatalogFlow
    from portal.requests.models import RequestState, ResourceRequest
    from portal.resources.models import Resource, ResourceState

    ensure_roles()
    now = timezone.now()
    centers = CostCenter.objects.bulk_create(
        CostCenter(code=f"CC-{i:03}", name=f"Cost center {i}") for i in range(COST_CENTERS)
    )

    def user(name: str, group: str) -> User:
        made = User.objects.create_user(name, f"{name}@example.com", "pw", default_cost_center=centers[0])
        made.groups.add(Group.objects.get(name=group))
        return made

    alice, bob = user("alice", REQUESTERS), user("bob", APPROVERS)
    others = [user(f"user{i}", REQUESTERS) for i in range(20)]

    CatalogFlow.objects.bulk_create(
        (
            CatalogFlow(
                namespace=f"team{i % NAMESPACES}.infra",
                flow_id=f"flow-{i:05}",
                revision="r1",
                source=FLOW.format(flow_id=f"flow-{i:05}", namespace=f"team{i % NAMESPACES}.infra"),
                file=f"flow-{i:05}.yml",
                description=f"Makes thing number {i} for a team.",
                labels={"team": f"t{i % 10}", "portico.title": f"Thing {i}"},
            )
            for i in range(rows)
        ),
        batch_size=BATCH,
    )
    flows = list(CatalogFlow.objects.order_by("id")[:REQUESTED_FLOWS])
    states = [s for s in RequestState.values if s != RequestState.PENDING_APPROVAL]

    def request(i: int, who: User, state: str) -> ResourceRequest:
        flow = flows[i % len(flows)]
        return ResourceRequest(
            requester=who,
            catalog_flow=flow,
            flow_revision=flow.revision,
            flow_source=flow.source,
            inputs={"name": f"thing-{i}", "size": "small"},
            cost_center=centers[i % COST_CENTERS],
            state=state,
        )

    ResourceRequest.objects.bulk_create(
        (request(i, alice, states[i % len(states)]) for i in range(rows)), batch_size=BATCH
    )
    ResourceRequest.objects.bulk_create(
        (request(i, others[i % len(others)], RequestState.PENDING_APPROVAL) for i in range(rows)),
        batch_size=BATCH,
    )
    # Spread submission times over 60 days (auto_now_add set them all to now), in id bands.
    ids = list(ResourceRequest.objects.order_by("id").values_list("id", flat=True))
    for band, start in enumerate(range(0, len(ids), 250)):
        chunk = ids[start : start + 250]
        ResourceRequest.objects.filter(id__gte=chunk[0], id__lte=chunk[-1]).update(
            created=now - timedelta(hours=(band * 37) % (60 * 24))
        )

    Execution.objects.bulk_create(
        (
            Execution(
                namespace=flows[i % len(flows)].namespace,
                flow_id=flows[i % len(flows)].flow_id,
                flow_revision="r1",
                flow_source=flows[i % len(flows)].source,
                state=(State.SUCCESS, State.FAILED, State.RUNNING, State.KILLED)[i % 4],
                created=now - timedelta(minutes=13 * i),
                started=now - timedelta(minutes=13 * i),
                ended=now - timedelta(minutes=13 * i - 2),
            )
            for i in range(rows)
        ),
        batch_size=BATCH,
    )
    alices = list(ResourceRequest.objects.filter(requester=alice).order_by("id").values_list("id", flat=True))
    Resource.objects.bulk_create(
        (
            Resource(
                kind=("hcloud-server", "database", "bucket")[i % 3],
                name=f"thing-{i}",
                owner=alice,
                cost_center=centers[i % COST_CENTERS],
                request_id=request_id,
                namespace="team0.infra",
                state=ResourceState.DESTROYED if i % 3 == 0 else ResourceState.RUNNING,
                hourly_cost=Decimal("0.0052"),
                monthly_cost=Decimal("3.2900"),
            )
            for i, request_id in enumerate(alices)
        ),
        batch_size=BATCH,
    )
    # The chain is not verified here: unique stand-in hashes are enough to fill the table.
    digest = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(rows + 1)]
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                created=now - timedelta(minutes=7 * i),
                actor=(alice, bob, others[0])[i % 3],
                actor_repr=("alice", "bob", "user0")[i % 3],
                verb=("request.submitted", "request.approved", "execution.finished")[i % 3],
                target_type="requests.resourcerequest",
                target_id=str(i),
                flow_namespace=flows[i % len(flows)].namespace,
                flow_id=flows[i % len(flows)].flow_id,
                cost_center=centers[i % COST_CENTERS],
                details={"comment": "ok"},
                prev_hash=digest[i],
                hash=digest[i + 1],
            )
            for i in range(rows)
        ),
        batch_size=BATCH,
    )
    return {"alice": alice, "bob": bob, "center": centers[3].pk, "flow": flows[7].pk}


def _measure(client: Any, url: str, loads: int) -> tuple[float, int, int]:
    """(p50 ms, queries of one load, response size in kB); one warm-up load first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up
    assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = len(captured)  # now: later requests empty the connection's log
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), queries, len(response.content) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    _setup()
    from django.test import Client

    started = time.perf_counter()
    made = _fill(args.rows)
    print(f"filled {args.rows} rows per list in {time.perf_counter() - started:.1f} s (SQLite)")
    pages = [
        ("alice", "catalog", "/"),
        ("alice", "catalog: search", "/?q=thing+42"),
        ("alice", "catalog: label", "/?label=team%3Dt3"),
        ("alice", "my requests", "/requests/"),
        ("alice", "my requests: state + dates", "/requests/?state=FAILED&since=2000-01-01"),
        ("alice", "my requests: search", "/requests/?q=flow-00007"),
        ("bob", "approval queue", "/approvals/"),
        ("bob", "approval queue: cost center + age", f"/approvals/?cost_center={made['center']}&age=1d"),
        ("bob", "approval queue: flow", f"/approvals/?flow={made['flow']}"),
        ("bob", "executions", "/executions/"),
        ("bob", "executions: state + namespace", "/executions/?state=FAILED&namespace=team3.infra"),
        ("alice", "my resources", "/resources/"),
        ("alice", "my resources: show destroyed", "/resources/?destroyed=on&kind=bucket"),
        ("bob", "all resources: owner", f"/resources/?all=1&owner={made['alice'].pk}"),
        ("bob", "audit log", "/audit/"),
        ("bob", "audit log: actor + verb", f"/audit/?actor={made['alice'].pk}&verb=request.submitted"),
    ]
    clients = {}
    for name in ("alice", "bob"):
        clients[name] = Client()
        clients[name].force_login(made[name])
    print(f"{'page':<40} {'p50 ms':>8} {'queries':>8} {'kB':>6}   ({args.loads} loads each)")
    for who, label, url in pages:
        p50, queries, size = _measure(clients[who], url, args.loads)
        print(f"{label:<40} {p50:8.1f} {queries:8d} {size:6d}")


if __name__ == "__main__":
    main()
