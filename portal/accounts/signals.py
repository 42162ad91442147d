"""What single sign-on announces for the audit log (portal/audit/receivers.py records it).

Signals, because the audit app reads accounts (cost centers, client IPs) and accounts must not import it
back. Sent inside the transaction of the change, so the row commits or vanishes with it.
"""

from django.dispatch import Signal

# user (or None: no account yet), request, details: {"method", "provider", "subject", "reason", ...}
sso_login_refused = Signal()
# user, request, details: {"method", "provider", "subject", "groups_added", "groups_removed"}
sso_roles_synced = Signal()
