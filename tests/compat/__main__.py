"""``python -m tests.compat CORPUS`` (``make compat``): the Kestra compatibility report.

Exit status as ``report.main``: 0 when every valid flow loads or is cleanly unsupported and every
invalid flow is rejected, 1 otherwise, 2 when the corpus directory is missing.
"""

import sys

from tests.compat.report import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m tests.compat"))
