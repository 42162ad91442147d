"""Problems found in a flow file, and the context that collects them while the parsers run.

Kept below every parser module (it imports nothing of Portico) so each parser can report a problem
without importing ``spec``, which imports the parsers for its entry points.
"""

from __future__ import annotations

# The one wording of a refused-but-valid Kestra feature; ``not_supported`` recognises it.
NOT_SUPPORTED = "not supported yet"


class FlowError(Exception):
    """One problem in one flow file, located by line and field path."""

    def __init__(self, file: str, line: int, path: str, message: str) -> None:
        super().__init__(file, line, path, message)
        self.file, self.line, self.path, self.message = file, line, path, message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"

    @property
    def not_supported(self) -> bool:
        """True for problems that are missing features on our side, not mistakes in the flow."""
        return self.message.endswith(NOT_SUPPORTED)


class FlowValidationError(Exception):
    """All problems found in one flow; ``str`` lists them one per line."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line))
        super().__init__("\n".join(str(e) for e in self.errors))


class ParseContext:
    """Collects the errors and warnings of one file, so a parser reports every problem, not the first.

    Parsers of one file share one context; the order of ``errors`` is the order problems were found,
    which ``FlowValidationError`` keeps for problems on the same line.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[FlowError] = []
        self.warnings: list[FlowError] = []

    def error(self, line: int, path: str, message: str) -> None:
        self.errors.append(FlowError(self.file, line, path or "flow", message))

    def warn(self, line: int, path: str, message: str) -> None:
        self.warnings.append(FlowError(self.file, line, path or "flow", message))
