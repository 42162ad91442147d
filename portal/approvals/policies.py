"""Approval policies: which policy a flow's requests fall under, what its labels say, and who may vote.

Two places set a policy. An admin's ``ApprovalPolicy`` (for one flow, or a namespace pattern) and the
flow's own labels ``portico.approval.<key>`` (``LABEL_KEYS``). Each setting comes from the admin policy
when it sets it, else from the label, else the default; ``require_reject_comment`` is on when either
says so. The result is frozen onto the request at submit (``RequestPolicy``), so editing a policy never
changes what an already-submitted request needs. Unknown ``portico.approval.*`` labels and malformed
values are refused at catalog sync (``label_errors``), never ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from orchestrator.flowmodel.durations import parse_duration
from portal.accounts.roles import is_approver, may_decide_on

from .models import MAX_QUORUM, Approval, ApprovalPolicy, Delegation, RequestPolicy

LABEL_PREFIX = "portico.approval."
LABEL_KEYS = (
    "quorum",  # "2": that many distinct approvers must approve
    "groups",  # "net-admins,sre": only members of these groups decide
    "cost-threshold",  # "100.00": a request estimated above this monthly cost needs a second approver
    "reject-comment",  # "required": rejecting needs a comment
    "expire-after",  # "P2D": undecided this long, the request expires
    "remind-after",  # "PT8H": undecided this long, the approvers are reminded once
    "escalate-after",  # "P1D": undecided this long, the escalate-to group may decide too
    "escalate-to",  # "managers": that group
)
MAX_GROUPS = 20
MAX_GROUP_NAME = 150  # Django's Group.name


@dataclass(frozen=True)
class PolicyValues:
    """One source's settings; None means "not set here"."""

    groups: tuple[str, ...] | None = None
    quorum: int | None = None
    cost_threshold: Decimal | None = None
    require_reject_comment: bool = False
    expire_after: timedelta | None = None
    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: str | None = None


def _positive_duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"must be a positive ISO-8601 duration like PT8H or P2D, got {text!r}")
    return value


def _quorum(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_QUORUM:
        raise ValueError(f"must be a whole number from 1 to {MAX_QUORUM}, got {text[:40]!r}")
    return int(text)


def _groups(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names or len(names) > MAX_GROUPS or any(len(n) > MAX_GROUP_NAME for n in names):
        raise ValueError(f"must be 1 to {MAX_GROUPS} comma-separated group names, got {text[:60]!r}")
    return names


def _group(text: str) -> str:
    names = _groups(text)
    if len(names) != 1:
        raise ValueError(f"must name one group, got {text[:60]!r}")
    return names[0]


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or len(text) > 20:
        raise ValueError(f"must be a non-negative amount like 100.00, got {text[:40]!r}")
    return value


def _flag(text: str) -> bool:
    if text not in ("required", "optional"):
        raise ValueError(f"must be required or optional, got {text[:40]!r}")
    return text == "required"


_PARSERS = {
    "quorum": ("quorum", _quorum),
    "groups": ("groups", _groups),
    "cost-threshold": ("cost_threshold", _money),
    "reject-comment": ("require_reject_comment", _flag),
    "expire-after": ("expire_after", _positive_duration),
    "remind-after": ("remind_after", _positive_duration),
    "escalate-after": ("escalate_after", _positive_duration),
    "escalate-to": ("escalate_to", _group),
}


def _parse(labels: dict[str, Any]) -> tuple[PolicyValues, list[tuple[str, str]]]:
    values: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for key in sorted(k for k in labels if isinstance(k, str) and k.startswith(LABEL_PREFIX)):
        name = key.removeprefix(LABEL_PREFIX)
        if name not in _PARSERS:
            known = ", ".join(LABEL_PREFIX + k for k in LABEL_KEYS)
            errors.append((key, f"unknown approval label (known: {known})"))
            continue
        field, parse = _PARSERS[name]
        try:
            values[field] = parse(str(labels[key]))
        except ValueError as exc:
            errors.append((key, str(exc)))
    if ("escalate_after" in values) != ("escalate_to" in values) and not errors:
        key = LABEL_PREFIX + ("escalate-after" if "escalate_after" in values else "escalate-to")
        errors.append(
            (key, f"set both {LABEL_PREFIX}escalate-after and {LABEL_PREFIX}escalate-to, or neither")
        )
    return PolicyValues(**values), errors


def label_errors(labels: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label key, why)`` for each refused ``portico.approval.*`` label (empty: they are fine)."""
    return _parse(labels)[1]


def from_labels(labels: dict[str, Any]) -> PolicyValues:
    """The labels' settings; a malformed one (only possible in a row synced before it was checked) is
    left out, the catalog sync refuses it from now on."""
    return _parse(labels)[0]


def _matches(pattern: str, namespace: str) -> bool:
    if pattern.endswith(".*"):
        stem = pattern[:-2]
        return namespace == stem or namespace.startswith(stem + ".")
    return namespace == pattern


def admin_policy(catalog_flow: Any) -> ApprovalPolicy | None:
    """The admin's policy for ``catalog_flow``: its own, else the longest matching namespace pattern."""
    own = ApprovalPolicy.objects.filter(flow=catalog_flow).first()
    if own is not None:
        return own
    patterns = ApprovalPolicy.objects.filter(flow__isnull=True)
    matching = [p for p in patterns if _matches(p.namespace, catalog_flow.namespace)]
    # Longest stem first; "a.b" (exact) before "a.b.*" of the same stem.
    return max(
        matching,
        key=lambda p: (len(p.namespace.removesuffix(".*")), not p.namespace.endswith(".*")),
        default=None,
    )


def _from_admin(policy: ApprovalPolicy) -> PolicyValues:
    groups = tuple(policy.approver_groups.order_by("name").values_list("name", flat=True))
    return PolicyValues(
        groups=groups or None,
        quorum=policy.quorum,
        cost_threshold=policy.cost_threshold,
        require_reject_comment=policy.require_reject_comment,
        expire_after=policy.expire_after,
        remind_after=policy.remind_after,
        escalate_after=policy.escalate_after,
        escalate_to=policy.escalate_to.name if policy.escalate_to_id else None,
    )


def _second_approval(request: Any, threshold: Decimal | None) -> str:
    """Why ``request`` needs a second distinct approver ("" when it does not): over its cost center's
    budget (``resources.planning`` flags it) or estimated above the policy's cost threshold."""
    estimate = getattr(request, "estimate", None)
    if estimate is None:
        return ""
    if estimate.over_budget:
        return "over budget"
    if threshold is not None and estimate.monthly_cost is not None and estimate.monthly_cost > threshold:
        return f"above the cost threshold of {threshold} {estimate.currency} a month"
    return ""


def freeze(request: Any) -> RequestPolicy:
    """Resolve the policy for a just-submitted ``request`` and store it on the request."""
    admin = admin_policy(request.catalog_flow)
    labels = from_labels(request.catalog_flow.labels or {})
    mine = _from_admin(admin) if admin is not None else PolicyValues()

    def pick(field: str) -> Any:
        value = getattr(mine, field)
        return value if value is not None else getattr(labels, field)

    escalate_after, escalate_to = pick("escalate_after"), pick("escalate_to")
    now = request.created or timezone.now()
    sources = [f"admin policy '{admin.name}'"] if admin is not None else []
    if any(k.startswith(LABEL_PREFIX) for k in request.catalog_flow.labels or {}):
        sources.append("flow labels")
    names = list(pick("groups") or ())
    groups = list(Group.objects.filter(name__in=names))
    fallback = Group.objects.filter(name=escalate_to).first() if escalate_after and escalate_to else None
    missing = sorted(set(names) - {g.name for g in groups})
    if escalate_after and escalate_to and fallback is None:
        missing.append(escalate_to)
    if missing:
        sources.append(f"missing groups: {', '.join(missing)}"[:120])
    frozen = RequestPolicy.objects.create(
        request=request,
        source=" + ".join(sources)[:300] or "default",
        restricted=bool(names),
        quorum=pick("quorum") or 1,
        second_approval=_second_approval(request, pick("cost_threshold")),
        require_reject_comment=mine.require_reject_comment or labels.require_reject_comment,
        deadline=now + pick("expire_after") if pick("expire_after") else None,
        remind_at=now + pick("remind_after") if pick("remind_after") else None,
        escalate_at=now + escalate_after if fallback is not None else None,
        escalate_to=fallback,
    )
    frozen.approver_groups.set(groups)
    return frozen


def of(request: Any) -> RequestPolicy:
    """The request's frozen policy; a request submitted before policies existed gets the old rule
    (one approver, two when over budget), resolved now and not stored."""
    found = RequestPolicy.objects.filter(request=request).first()
    if found is not None:
        return found
    return RequestPolicy(request=request, second_approval=_second_approval(request, None))


def _group_names(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def may_decide_alone(user: Any, request: Any, policy: RequestPolicy) -> tuple[str, str]:
    """Why ``user`` may not decide ``request`` on their own account: ``(kind, message)`` with kind
    ``role``, ``self``, ``scope`` or ``group``; ``("", "")`` when they may."""
    if not user.is_active or not is_approver(user):
        return "role", f"{user} may not approve or reject requests"
    if user.pk == request.requester_id:
        return "self", "you cannot decide on your own request"
    if not may_decide_on(user, request.cost_center_id, request.catalog_flow.namespace):
        return "scope", f"{user} does not approve for cost center {request.cost_center.code}"
    if policy.restricted and not user.is_superuser:
        groups = set(group_names(policy))
        if policy.escalated_at is not None and policy.escalate_to_id:
            groups.add(policy.escalate_to.name)
        if not groups & _group_names(user):
            shown = ", ".join(sorted(groups)) or "none that exist"
            return "group", f"{user} is not in the approver groups of this request ({shown})"
    return "", ""


def group_names(policy: RequestPolicy) -> list[str]:
    """The frozen policy's approver groups by name (none for an unsaved, pre-policy request)."""
    return list(policy.approver_groups.order_by("name").values_list("name", flat=True)) if policy.pk else []


def active_delegators(user: Any, today: Any = None) -> list[Any]:
    """The approvers ``user`` stands in for today."""
    today = today or timezone.localdate()
    rows = Delegation.objects.filter(delegate=user, starts__lte=today, ends__gte=today).select_related(
        "approver"
    )
    return [row.approver for row in rows.order_by("approver_id")]


@dataclass(frozen=True)
class Voter:
    """Whose vote ``approver``'s decision is: their own, or (``on_behalf_of``) an away approver's."""

    approver: Any
    on_behalf_of: Any = None

    @property
    def counted_for(self) -> Any:
        return self.on_behalf_of or self.approver


class NotEligible(PermissionDenied):
    """Not an approver of this request at all (``kind``: role, self, scope, group), nor standing in
    for one who is."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AlreadyVoted(PermissionDenied):
    """This person's vote is already counted: another, distinct approver must decide."""


def voter(user: Any, request: Any, policy: RequestPolicy) -> Voter:
    """Who ``user``'s decision counts for: themselves if they may decide, else an approver they stand
    in for who may and has not voted yet. Raises ``NotEligible`` or ``AlreadyVoted``."""
    if user.pk == request.requester_id:
        raise NotEligible("self", "you cannot decide on your own request")
    voted = set(Approval.objects.filter(request=request).values_list("counted_for_id", flat=True))
    kind, why = may_decide_alone(user, request, policy)
    candidates = [] if kind else [Voter(user)]
    for principal in active_delegators(user):
        if principal.pk != request.requester_id and not may_decide_alone(principal, request, policy)[0]:
            candidates.append(Voter(user, on_behalf_of=principal))
    if not candidates:
        raise NotEligible(kind, why)
    for candidate in candidates:
        if candidate.counted_for.pk not in voted:
            return candidate
    if policy.second_approval:
        raise AlreadyVoted(f"{policy.second_approval}: a second, different approver must approve")
    raise AlreadyVoted("your approval is already counted: a different approver must approve")


def eligible_users(request: Any, policy: RequestPolicy, users: list[Any]) -> list[Any]:
    """Those of ``users`` who may vote on ``request`` now and have not (for reminders)."""
    voted = set(Approval.objects.filter(request=request).values_list("counted_for_id", flat=True))
    return [u for u in users if u.pk not in voted and not may_decide_alone(u, request, policy)[0]]


def group_members(group: Group | None) -> list[Any]:
    return list(group.user_set.filter(is_active=True).order_by("pk")) if group is not None else []


def describe(request: Any) -> str:
    """One line for the queue: what the request's policy still asks for ("" when only the default)."""
    policy = of(request)
    parts: list[str] = []
    if policy.required > 1:
        names = list(Approval.objects.filter(request=request).values_list("counted_for__username", flat=True))
        why = f" ({policy.second_approval})" if policy.second_approval else ""
        so_far = f", approved so far by {', '.join(names)}" if names else ""
        parts.append(f"needs {policy.required} distinct approvals{why}{so_far}")
    if policy.restricted:
        parts.append(f"approver groups: {', '.join(group_names(policy)) or 'none that exist'}")
    if policy.require_reject_comment:
        parts.append("a reject needs a comment")
    if policy.deadline is not None:
        parts.append(f"expires {policy.deadline:%Y-%m-%d %H:%M} UTC if undecided")
    return " · ".join(parts)
