"""Ansible stdout callback of Portico's AnsibleCLI task (copied into the task's working directory).

It replaces Ansible's screen output: each host result becomes one task log line ``[host] status =>
{result}`` (ERROR for failed and unreachable hosts) through Kestra's ``::{"logs": [...]}::`` protocol,
and the structured results (Kestra's ``vars.outputs`` list and ``playbooks`` tree) are appended as one
JSON line per ansible-playbook run to the file named by ``PORTICO_ANSIBLE_RESULTS``; the log lines
also go to ``log_path`` when the configuration sets one (``outputLogFile``). Named
``kestra_logger`` so an ``ansible.cfg`` written for Kestra finds it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from ansible import constants
from ansible.plugins.callback import CallbackBase

_MESSAGE_CHARS = 8000  # one log line; the whole result stays in the outputs


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "kestra_logger"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outputs: list[dict[str, Any]] = []
        self.plays: list[dict[str, Any]] = []
        self.task: dict[str, Any] | None = None
        # Ansible logs only what its display prints; these lines are printed, so they are logged here.
        self.log_path = getattr(constants, "DEFAULT_LOG_PATH", None) or None

    def _emit(self, level: str, message: str) -> None:
        if len(message) > _MESSAGE_CHARS:
            message = message[:_MESSAGE_CHARS] + "…"
        line = json.dumps({"logs": [{"level": level, "message": message}]}, default=str)
        print(f"::{line}::", flush=True)
        if self.log_path:
            with open(os.path.expanduser(str(self.log_path)), "a", encoding="utf-8") as log:
                log.write(f"{_now()} {level} {message}\n")

    def _play(self) -> dict[str, Any]:
        if not self.plays:
            self.plays.append({"name": "implicit_play", "tasks": []})
        return self.plays[-1]

    def _end_task(self) -> None:
        if self.task is not None and self.task["endedAt"] is None:
            self.task["endedAt"] = _now()

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._end_task()
        name = play.get_name().strip() or "unnamed_play"
        self.plays.append({"name": name, "tasks": []})
        self._emit("INFO", f"PLAY [{name}]")

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._end_task()
        play = self._play()
        name = task.get_name().strip() or str(getattr(task, "action", "")) or f"task_{len(play['tasks']) + 1}"
        self.task = {
            "uid": f"{play['name']} | {name}",
            "name": name,
            "startedAt": _now(),
            "endedAt": None,
            "hosts": [],
        }
        play["tasks"].append(self.task)

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _result(self, result: Any, status: str) -> None:
        payload = {k: v for k, v in dict(result._result).items() if not k.startswith("_ansible")}
        self.outputs.append(payload)
        host = result._host.get_name() if result._host else "unknown_host"
        if self.task is None:
            self.v2_playbook_on_task_start(result._task, False)
        self.task["hosts"].append({"host": host, "status": status, "result": payload})
        level = "ERROR" if status in ("failed", "unreachable") else "INFO"
        self._emit(level, f"[{host}] {status} => {json.dumps(payload, default=str, sort_keys=True)}")

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._end_task()
        for host in sorted(stats.processed):
            totals = stats.summarize(host)
            recap = " ".join(
                f"{key}={totals[key]}"
                for key in ("ok", "changed", "unreachable", "failures", "skipped", "rescued", "ignored")
            )
            self._emit("INFO", f"PLAY RECAP [{host}] {recap}")
        target = os.environ.get("PORTICO_ANSIBLE_RESULTS")
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(
                    json.dumps({"outputs": self.outputs, "playbooks": [{"plays": self.plays}]}, default=str)
                    + "\n"
                )
