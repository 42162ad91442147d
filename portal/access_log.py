"""gunicorn's access log without credentials: ``--logger-class portal.access_log.SecretMaskingLogger``.

Some URLs carry a secret in their path: a webhook's key (``/api/v1/executions/webhook/<ns>/<flow>/<key>``,
Kestra's URL, which callers cannot change) and allauth's password-reset key. Query strings may carry
tokens of any kind. Every atom gunicorn offers the log format (request line, path, query, referer, raw
environ values) goes through ``mask`` first, so no format string can put a secret back in the log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging

MASK = "***"
# (prefix kept, secret replaced): the key is the segment after the prefix.
_SECRET_PATHS = (
    re.compile(r"(/executions/webhook/[^/?#\s\"]+/[^/?#\s\"]+/)[^/?#\s\"]+"),
    re.compile(r"(/password/reset/key/)[^/?#\s\"]+"),
)
_QUERY_VALUE = re.compile(r"=[^&#\s\"]*")
_QUERY = re.compile(r"\?[^#\s\"]*")


def mask_query(query: str) -> str:
    """``a=1&b=2`` → ``a=***&b=***``: which parameters were sent stays visible, their values do not."""
    return _QUERY_VALUE.sub(f"={MASK}", query)


def mask(text: str) -> str:
    """A URL, request line or header value with its secret path segments and query values masked."""
    for pattern in _SECRET_PATHS:
        text = pattern.sub(rf"\g<1>{MASK}", text)
    return _QUERY.sub(lambda match: mask_query(match.group(0)), text)


class SecretMaskingLogger(glogging.Logger):
    """gunicorn's logger whose access-log atoms are masked (see the module docstring)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        masked: dict[str, Any] = {}
        for name, value in atoms.items():
            if not isinstance(value, str):
                masked[name] = value
            elif name in ("q", "{query_string}e"):  # a bare query string, without its "?"
                masked[name] = mask_query(value)
            else:
                masked[name] = mask(value)
        return masked


class MaskSecretUrlsFilter(logging.Filter):
    """The same masking for Python logging: Django's ``django.request`` logger names the path of every
    4xx/5xx answer ("Not Found: /api/v1/executions/webhook/<ns>/<flow>/<key>")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
