"""``portico``: log in, list flows and resources, request (and wait), approve or reject, read logs.

Exit status: 0 on success, 1 on any failure with one line on stderr (``portico: …``), 2 for bad usage.
``--json`` prints what the API answered, for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from . import config
from .client import ApiError, Client

TERMINAL_REQUEST_STATES = {"REJECTED", "SUCCEEDED", "FAILED", "CANCELLED"}
_POLL_SECONDS = 1.0


class Failure(Exception):
    """The command ran but did not succeed (a request that failed, a flag that makes no sense)."""


def _print(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text(data))


def _inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise Failure(f"--input takes key=value, got {pair!r}")
        inputs[key] = value
    return inputs


def cmd_login(args: argparse.Namespace) -> None:
    url = (args.url or input("Portico URL: ")).strip().rstrip("/")
    token = args.token or (getpass.getpass("API token: ") if sys.stdin.isatty() else sys.stdin.readline())
    cfg = config.Config(url=url, token=token.strip())
    with Client(cfg) as client:
        me = client.get("/me")  # proves the pair works before it is saved
    path = config.save(cfg)
    _print(args, me, lambda m: f"Logged in to {url} as {m['username']} (saved in {path})")


def cmd_flows(args: argparse.Namespace, client: Client) -> None:
    flows = list(client.pages("/flows", namespace=args.namespace))
    _print(
        args,
        flows,
        lambda rows: (
            "\n".join(
                f"{f['namespace']}.{f['id']}\t{'approval' if f['needs_approval'] else 'no approval'}\t"
                f"{' '.join(i['id'] for i in f['inputs'])}"
                for f in rows
            )
            or "(no flows)"
        ),
    )


def _request_line(r: dict[str, Any]) -> str:
    execution = f" execution {r['execution_id']}" if r.get("execution_id") else ""
    return f"request #{r['id']} {r['flow']} {r['state']}{execution}"


def _wait(client: Client, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Until the request has ended; an execution is followed by long-polling its state."""
    deadline = time.monotonic() + timeout
    while request["state"] not in TERMINAL_REQUEST_STATES:
        if time.monotonic() > deadline:
            raise Failure(f"request #{request['id']} is still {request['state']} after {timeout:g} s")
        if request.get("execution_id") and request["state"] in ("APPROVED", "RUNNING"):
            execution = client.get(f"/executions/{request['execution_id']}")
            if not execution["terminal"]:
                client.get(f"/executions/{execution['id']}/follow", state=execution["state"], timeout=10)
        else:
            time.sleep(_POLL_SECONDS)
        request = client.get(f"/requests/{request['id']}")
    return request


def cmd_request(args: argparse.Namespace, client: Client) -> None:
    body: dict[str, Any] = {"flow": args.flow, "inputs": _inputs(args.input)}
    if args.cost_center:
        body["cost_center"] = args.cost_center
    request = client.post("/requests", body)
    if args.wait:
        request = _wait(client, request, args.timeout)
    _print(args, request, _request_line)
    if args.wait and request["state"] != "SUCCEEDED":
        raise Failure(f"request #{request['id']} ended {request['state']}")


def cmd_decide(args: argparse.Namespace, client: Client) -> None:
    request = client.post(f"/approvals/{args.id}/{args.command}", {"comment": args.comment or ""})
    _print(args, request, _request_line)


def cmd_pending(args: argparse.Namespace, client: Client) -> None:
    requests = list(client.pages("/approvals/pending"))
    _print(args, requests, lambda rows: "\n".join(_request_line(r) for r in rows) or "(nothing pending)")


def cmd_logs(args: argparse.Namespace, client: Client) -> None:
    cursor: int | None = None
    while True:
        answer = client.get(f"/executions/{args.execution}/logs", after=cursor, level=args.level)
        if args.json:
            for line in answer["items"]:
                print(json.dumps(line, sort_keys=True))
        else:
            for line in answer["items"]:
                task = f" [{line['task_id']}]" if line["task_id"] else ""
                print(f"{line['timestamp']} {line['level']:<5}{task} {line['message']}")
        sys.stdout.flush()
        cursor = answer["cursor"]
        if not args.follow or (answer["terminal"] and not answer["items"]):
            return
        if not answer["items"]:
            time.sleep(_POLL_SECONDS)


def cmd_resources(args: argparse.Namespace, client: Client) -> None:
    resources = list(client.pages("/resources", mine=args.mine or None, state=args.state))
    _print(
        args,
        resources,
        lambda rows: (
            "\n".join(
                f"#{r['id']}\t{r['name']}\t{r['kind']}\t{r['state']}\t{r['cost_center']}\t{r['owner']}"
                for r in rows
            )
            or "(no resources)"
        ),
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="portico", description="Portico from the command line.")
    root.add_argument("--json", action="store_true", help="machine-readable output")
    sub = root.add_subparsers(dest="command", required=True)

    login = sub.add_parser("login", help="save the server URL and an API token")
    login.add_argument("--url")
    login.add_argument("--token", help="default: asked for (or read from standard input)")
    login.set_defaults(run=cmd_login, needs_client=False)

    flows = sub.add_parser("flows", help="flows you may request")
    flows.add_argument("--namespace")
    flows.set_defaults(run=cmd_flows)

    request = sub.add_parser("request", help="request a flow: portico request team.vm --input name=web")
    request.add_argument("flow", help="namespace.flow_id")
    request.add_argument("--input", action="append", default=[], metavar="KEY=VALUE")
    request.add_argument("--cost-center", help="its code (default: your default cost center)")
    request.add_argument("--wait", action="store_true", help="until it has run; fails unless it succeeded")
    request.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits at most")
    request.set_defaults(run=cmd_request)

    for verb in ("approve", "reject"):
        decide = sub.add_parser(verb, help=f"{verb} a pending request")
        decide.add_argument("id", type=int)
        decide.add_argument("--comment")
        decide.set_defaults(run=cmd_decide)

    pending = sub.add_parser("pending", help="requests awaiting your decision")
    pending.set_defaults(run=cmd_pending)

    logs = sub.add_parser("logs", help="an execution's log lines")
    logs.add_argument("execution")
    logs.add_argument("--follow", "-f", action="store_true", help="until the execution has ended")
    logs.add_argument("--level", help="TRACE, DEBUG, INFO, WARN or ERROR and above")
    logs.set_defaults(run=cmd_logs)

    resources = sub.add_parser("resources", help="resources you may see")
    resources.add_argument("--mine", action="store_true")
    resources.add_argument("--state")
    resources.set_defaults(run=cmd_resources)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if not getattr(args, "needs_client", True):
            args.run(args)
        else:
            with Client(config.load()) as client:
                args.run(args, client)
    except (ApiError, config.ConfigError, Failure) as exc:
        print(f"portico: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
