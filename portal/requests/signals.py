"""What a request announces. Apps above ``requests`` (approvals, notifications) react to these events,
so ``requests`` never imports them and the apps' imports go one way.

Both are sent with ``sender=ResourceRequest`` inside the transaction that made the change, so what a
receiver writes commits or rolls back with it, and its mail is queued on commit.
"""

from django.dispatch import Signal

# A new request was recorded and audited. Arguments: ``request``; ``flow``, its parsed flow snapshot;
# ``system_approval``, why Portico itself approves it (e.g. an expired resource's destroy), or None.
# ``approvals`` applies its policy: ask the approvers, or approve it at once.
request_submitted = Signal()

# A request reached a terminal state through its execution. Argument: ``request``.
request_finished = Signal()

# The requester withdrew a request still pending approval (``self_service``). Argument: ``request``.
request_cancelled = Signal()

# Someone added to a request's comment thread (``comments``). Argument: ``comment``.
request_commented = Signal()
