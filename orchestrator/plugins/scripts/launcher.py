"""Sets the resource limits of a script's process, then becomes the script (``exec``).

Run as ``python -I launcher.py '<limits as JSON>' ARGV...``. Limits are set in this child process, not
with ``preexec_fn`` in the worker: the worker is multi-threaded, and forking there then running Python
code before ``exec`` can deadlock. ``-I`` keeps the working directory (flow-supplied files) off the
import path.
"""

import json
import os
import resource
import sys

_LIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "memory_bytes": resource.RLIMIT_AS,
    "open_files": resource.RLIMIT_NOFILE,
    "file_bytes": resource.RLIMIT_FSIZE,
}


def main() -> None:
    limits = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    for name, kind in _LIMITS.items():
        value = limits.get(name)
        if value:
            _, hard = resource.getrlimit(kind)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"cannot start {argv[0]}: {exc.strerror}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
