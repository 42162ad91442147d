"""View guards: role checks raise PermissionDenied (403) for logged-in users without the role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .roles import can_view_audit, is_approver


def _requires(check: Callable[..., bool]) -> Callable:
    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


approver_required = _requires(is_approver)
audit_reader_required = _requires(can_view_audit)
