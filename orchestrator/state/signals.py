"""State-change signals: how the portal learns about executions without the orchestrator importing it.

Both are sent by ``engine.transition`` *inside* the transaction that writes the change, so a receiver's
writes (an audit row, a request state) commit or roll back with it. Receivers that talk to the outside
world (email, HTTP) must defer that work with ``transaction.on_commit``.

``old`` is None when the row was just created (``new`` is then CREATED).
"""

from django.dispatch import Signal

# sender=Execution; kwargs: execution, old (str | None), new (str)
execution_state_changed = Signal()
# sender=TaskRun; kwargs: taskrun, old (str | None), new (str)
taskrun_state_changed = Signal()
# sender=Trigger; kwargs: trigger (its ``enabled`` already changed, in the sending transaction)
trigger_enabled_changed = Signal()
# sender=Execution; kwargs: execution, taskrun, provider_id (str), state_key (str), name (str),
# details (dict). Sent by a task the moment something exists at a provider (``RunContext.created``),
# in its own committed transaction, so a run killed or crashed right after still leaves a record.
provider_object_created = Signal()
# sender=NamespaceSecret; kwargs: secret_id (int), namespace (str), name (str), action ("created",
# "replaced" or "deleted"), user (the acting user or None). Sent inside the transaction that changes
# the row; it never carries the value.
namespace_secret_changed = Signal()
