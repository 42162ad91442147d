from . import core  # noqa: F401  (task types register on import)
