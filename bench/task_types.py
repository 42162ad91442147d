"""What a task type costs on top of the work it does: a 1-command shell task and a local HTTP call.

    python bench/task_types.py [--tasks 30]

Runs one flow of N shell tasks (``echo hi`` through ``io.kestra.plugin.scripts.shell.Commands``) and one
of N HTTP GETs (``io.kestra.plugin.core.http.Request`` against a local server) on the embedded defaults
(a fresh SQLite file, embedded Redis, an in-process worker), and the same work done directly in Python
(``subprocess.run`` of ``/bin/sh -c 'echo hi'``; ``httpx.get``). Prints ms per task for each, and the
ratio in the same run: a task run's own time (claimed to finished: render, validate, run the plugin,
record) and the flow's wall time per task (adding the hop to the next task). Not a test: it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="portico-bench-")
    os.environ.update(PORTICO_DATA_DIR=data, DJANGO_SETTINGS_MODULE="portal.settings")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from celery import current_app
    from django.core.management import call_command

    from orchestrator.executor import walker
    from orchestrator.flowmodel import spec
    from orchestrator.state.models import TERMINAL, Execution
    from orchestrator.worker import embedded_redis
    from orchestrator.worker.local_worker import local_worker

    call_command("migrate", interactive=False, verbosity=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    embedded_redis.ensure_running()
    app = current_app._get_current_object()
    n = args.tasks

    def run(task: str) -> tuple[float, float]:
        text = "id: bench\nnamespace: bench\ntasks:\n" + "".join(
            f"  - id: t{i}\n{task}" for i in range(n)
        )
        flow = spec.parse_flow(text, file="bench.yml")
        started = time.perf_counter()
        execution = walker.start_execution(flow, {})
        while Execution.objects.get(pk=execution.pk).state not in TERMINAL:
            time.sleep(0.02)
        wall = (time.perf_counter() - started) / n
        runs = Execution.objects.get(pk=execution.pk).task_runs.all()
        own = statistics.median((r.ended - r.started).total_seconds() for r in runs)
        return own * 1000, wall * 1000

    def direct(work: Any) -> float:
        started = time.perf_counter()
        for _ in range(n):
            work()
        return (time.perf_counter() - started) / n * 1000

    import httpx

    try:
        with local_worker(app, app.conf.task_default_queue):
            run("    type: io.kestra.plugin.core.debug.Return\n    format: warm-up\n")
            shell = "    type: io.kestra.plugin.scripts.shell.Commands\n    commands: ['echo hi']\n"
            shell_own, shell_wall = run(shell)
            http_own, http_wall = run(f"    type: io.kestra.plugin.core.http.Request\n    uri: {url}\n")
        shell_direct = direct(
            lambda: subprocess.run(["/bin/sh", "-c", "echo hi"], capture_output=True, check=True)
        )
        http_direct = direct(lambda: httpx.get(url).raise_for_status())
    finally:
        embedded_redis.shutdown()
        server.shutdown()
    print(f"{n} tasks each; ms per task (median task run / flow wall time per task) vs direct Python")
    for name, own, wall, base in (
        ("shell 'echo hi'", shell_own, shell_wall, shell_direct),
        ("HTTP GET (local)", http_own, http_wall, http_direct),
    ):
        print(
            f"  {name:<18} task run {own:7.1f} ms  flow {wall:7.1f} ms  direct {base:6.1f} ms  "
            f"ratio {own / base:5.1f}x (task run) {wall / base:5.1f}x (flow)"
        )


if __name__ == "__main__":
    main()
