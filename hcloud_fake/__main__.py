"""``python -m hcloud_fake``: run the Hetzner Cloud fake in the foreground for ``make up`` or by hand.

Point Portico (or the ``hcloud`` CLI/SDK) at the printed endpoint with the printed token.
"""

from __future__ import annotations

import argparse

from hcloud_fake import DEFAULT_TOKEN, HcloudFake


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hcloud_fake",
        description="Serve a local fake of the Hetzner Cloud API (loopback by default) until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token the fake accepts")
    parser.add_argument(
        "--action-polls",
        type=int,
        default=2,
        help="reads an action answers 'running' to before 'success'",
    )
    parser.add_argument(
        "--action-seconds", type=float, default=None, help="or finish actions after this many seconds"
    )
    args = parser.parse_args(argv)
    fake = HcloudFake(
        token=args.token,
        host=args.host,
        port=args.port,
        action_polls=args.action_polls,
        action_seconds=args.action_seconds,
    )
    print(f"hcloud fake on {fake.endpoint} (token {args.token!r}); Ctrl-C stops it", flush=True)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        print("hcloud fake stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
