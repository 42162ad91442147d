"""Audit verbs: one naming style (``<noun>.<what happened>``, e.g. ``request.approved``) and the label
people read for each.

Stored rows are never renamed: a verb is part of the hashed row (``services.canonical_json``), so
rewriting it would break the chain that proves the log untouched. Verbs recorded before the naming
was made consistent (``approved``, ``execution.kill``...) stay as they are and are read through
``LEGACY``: the page shows the same label for both spellings and filtering by one finds both.
"""

from __future__ import annotations

# Every verb Portico records now, with its label. A verb missing here is still shown (as itself).
LABELS: dict[str, str] = {
    "request.submitted": "Request submitted",
    "request.approved": "Request approved",
    "request.rejected": "Request rejected",
    "request.auto_approved": "Request approved automatically",
    "request.first_approval": "First of two approvals (over budget)",
    "request.cancelled": "Request cancelled",
    "request.commented": "Comment added",
    "request.approval_counted": "Approval counted (more needed)",
    "request.expired": "Request expired undecided",
    "request.escalated": "Request escalated",
    "execution.started": "Execution started",
    "execution.paused": "Execution paused",
    "execution.resumed": "Execution resumed",
    "execution.finished": "Execution finished",
    "execution.reopened": "Execution running again",
    "execution.kill_requested": "Kill requested",
    "execution.resume_requested": "Resume requested",
    "execution.restart_requested": "Restart requested",
    "execution.replay_requested": "Replay requested",
    "resource.provisioning_started": "Resource being provisioned",
    "resource.created": "Resource created",
    "resource.needs_attention": "Resource needs attention",
    "resource.drift_found": "Resource differs from the provider",
    "resource.action_requested": "Resource action requested",
    "resource.destroy_succeeded": "Resource destroyed",
    "resource.destroy_failed": "Resource destroy failed",
    "resource.poweroff_succeeded": "Resource powered off",
    "resource.poweroff_failed": "Power off failed",
    "resource.poweron_succeeded": "Resource powered on",
    "resource.poweron_failed": "Power on failed",
    "resource.extend_succeeded": "Resource lifetime extended",
    "resource.extend_failed": "Extension failed",
    "resource.expiry_warned": "Expiry warning sent",
    "resource.expired": "Resource expired",
    "resource.expiry_skipped": "Expiry skipped",
    "provider.orphan_found": "Unrecorded provider object found",
    "secret.created": "Namespace secret set",
    "secret.replaced": "Namespace secret replaced",
    "secret.deleted": "Namespace secret deleted",
    "user.logged_in": "Signed in",
    "user.login_failed": "Sign-in failed",
    "user.logged_out": "Signed out",
    "user.login_refused": "Single sign-on refused",
    "user.roles_synced": "Roles set from single sign-on",
    "user.created": "User created",
    "user.role_changed": "User's administrator or active flag changed",
    "role.granted": "Role on namespaces granted",
    "role.changed": "Role on namespaces changed",
    "role.revoked": "Role on namespaces revoked",
    "user.groups_changed": "User's groups changed",
    "user.permissions_changed": "User's permissions changed",
    "group.permissions_changed": "Group's permissions changed",
    "cost_center.members_changed": "Cost center members changed",
    "cost_center.member_groups_changed": "Cost center member groups changed",
    "cost_center.approvers_changed": "Cost center approvers changed",
    "admin.added": "Added in the admin",
    "admin.changed": "Changed in the admin",
    "admin.deleted": "Deleted in the admin",
    "flow.revised": "Flow revised",
    "audit.chain_keyed": "Audit chain keyed (HMAC) from here on",
    "audit.archived": "Old audit events archived",
    "api_token.created": "API token created",
    "api_token.revoked": "API token revoked",
    "api_token.denied": "API token refused",
}

# Old spelling (still in stored rows) → the verb it is now recorded as.
LEGACY: dict[str, str] = {
    "requested": "request.submitted",
    "approved": "request.approved",
    "rejected": "request.rejected",
    "auto-approved": "request.auto_approved",
    "approved.first_of_two": "request.first_approval",
    "execution.kill": "execution.kill_requested",
    "execution.resume": "execution.resume_requested",
    "execution.restart": "execution.restart_requested",
    "execution.replay": "execution.replay_requested",
    "resource.provisioning": "resource.provisioning_started",
    "resource.destroy": "resource.destroy_succeeded",
    "resource.poweroff": "resource.poweroff_succeeded",
    "resource.poweron": "resource.poweron_succeeded",
    "resource.extend": "resource.extend_succeeded",
    "resource.drift": "resource.drift_found",
}


def canonical(verb: str) -> str:
    """The current spelling of ``verb`` (itself unless it is a legacy one)."""
    return LEGACY.get(verb, verb)


def label(verb: str) -> str:
    """What the audit page shows for ``verb``, whichever spelling a row has."""
    current = canonical(verb)
    return LABELS.get(current, current)


def spellings(verb: str) -> list[str]:
    """Every stored spelling of ``verb``: filtering by one finds rows of all of them."""
    current = canonical(verb)
    return sorted({current, *(old for old, new in LEGACY.items() if new == current)})


def choices(stored: list[str]) -> list[tuple[str, str]]:
    """(verb, label) for the filter, one entry per current verb among the ``stored`` ones."""
    current = sorted({canonical(verb) for verb in stored}, key=label)
    return [(verb, label(verb)) for verb in current]
