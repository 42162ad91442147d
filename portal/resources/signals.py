"""What ``resources`` announces to apps above it (``notifications``), which it never imports."""

from django.dispatch import Signal

# The resource's owner was just emailed about it (from the Celery task that sends the email). Arguments:
# ``resource``; ``event``, the email's name: ``resource_expiring`` or ``resource_attention``.
# ``notifications`` records the same notice in the app (the bell).
owner_notified = Signal()
