"""Audit rows for changes announced by signals: secrets (the orchestrator never imports the portal),
logins, group / permission / cost-center memberships, user roles and every admin action.

A namespace secret change is recorded by name only: the signal never carries the value. Logins are
recorded from Django's own signals, so every way in (the login form, SSO, the admin) is covered by the
same three verbs. Membership changes are recorded from ``m2m_changed`` whichever side changed them
(``user.groups.add`` or ``group.user_set.add``): one row per user, group or cost center changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from orchestrator.state.models import NamespaceSecret
from orchestrator.state.signals import namespace_secret_changed
from portal.accounts.models import CostCenter, NamespaceGrant
from portal.accounts.signals import sso_login_refused, sso_roles_synced
from portal.accounts.throttle import client_ip

from .admin_changes import record_log_entry
from .context import current_actor
from .services import record

SECRET_VERBS = {"created": "secret.created", "replaced": "secret.replaced", "deleted": "secret.deleted"}
MAX_LOGIN_CHARS = 150
MAX_NAMES = 200
ROLE_FLAGS = ("is_superuser", "is_staff", "is_active")
User = get_user_model()


@receiver(namespace_secret_changed, sender=NamespaceSecret, dispatch_uid="portal.audit.namespace_secret")
def on_namespace_secret_changed(
    sender: Any, secret_id: int, namespace: str, name: str, action: str, user: Any = None, **kwargs: Any
) -> None:
    record(
        SECRET_VERBS[action],
        actor=user,
        target=("orchestrator.namespacesecret", secret_id),
        details={"namespace": namespace, "name": name},
    )


# --- logins ------------------------------------------------------------------------------------------


def _where(request: Any) -> dict[str, str]:
    return {"ip": client_ip(request)[:64]} if request is not None and hasattr(request, "META") else {}


@receiver(user_logged_in, dispatch_uid="portal.audit.user_logged_in")
def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    details = {**_where(request), "backend": str(getattr(user, "backend", "") or "")[:200]}
    record("user.logged_in", actor=user, target=user, details=details)


@receiver(user_login_failed, dispatch_uid="portal.audit.user_login_failed")
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """The name typed (Django has already masked the password), never checked against the accounts."""
    typed = next((credentials.get(k) for k in ("username", "login", "email") if credentials.get(k)), "")
    details: dict[str, Any] = {"login": str(typed)[:MAX_LOGIN_CHARS], **_where(request)}
    if getattr(request, "axes_locked_out", False):
        details["locked_out"] = True
    record("user.login_failed", details=details)


@receiver(sso_login_refused, dispatch_uid="portal.audit.sso_login_refused")
def on_sso_login_refused(
    sender: Any, user: Any, request: Any, details: dict[str, Any], **kwargs: Any
) -> None:
    """A bad ID token or discovery document, or no role (portal/accounts/adapter.py)."""
    record("user.login_refused", target=user, details={**details, **_where(request)})


@receiver(sso_roles_synced, dispatch_uid="portal.audit.sso_roles_synced")
def on_sso_roles_synced(sender: Any, user: Any, request: Any, details: dict[str, Any], **kwargs: Any) -> None:
    """The groups an SSO login set from the provider's claim: the provider's word, so no actor."""
    record("user.roles_synced", target=user, details=details)


@receiver(user_logged_out, dispatch_uid="portal.audit.user_logged_out")
def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and getattr(user, "is_authenticated", False):
        record("user.logged_out", actor=user, target=user, details=_where(request))


# --- roles: user flags -------------------------------------------------------------------------------


@receiver(pre_save, sender=User, dispatch_uid="portal.audit.user_flags_before")
def remember_role_flags(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and not set(update_fields) & set(ROLE_FLAGS)):
        return
    instance._audit_flags_before = sender.objects.filter(pk=instance.pk).values(*ROLE_FLAGS).first()


@receiver(post_save, sender=User, dispatch_uid="portal.audit.user_flags_after")
def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    flags = {flag: getattr(instance, flag) for flag in ROLE_FLAGS}
    if created:
        record(
            "user.created",
            actor=current_actor(),
            target=instance,
            details={"username": str(instance), **flags},
        )
        return
    before = instance.__dict__.pop("_audit_flags_before", None) or {}
    changed = {
        f: {"from": before[f], "to": flags[f]} for f in ROLE_FLAGS if f in before and before[f] != flags[f]
    }
    if changed:
        details = {"username": str(instance), "changed": changed}
        record("user.role_changed", actor=current_actor(), target=instance, details=details)


# --- memberships: groups, permissions, cost centers -------------------------------------------------


def _names(model: type[models.Model], pks: Any) -> dict[str, Any]:
    rows = model._default_manager.filter(pk__in=list(pks)).order_by("pk")
    if model is Permission:
        names = [
            f"{p.content_type.app_label}.{p.codename}"
            for p in rows.select_related("content_type")[:MAX_NAMES]
        ]
    elif model is CostCenter:
        names = list(rows.values_list("code", flat=True)[:MAX_NAMES])
    elif model is Group:
        names = list(rows.values_list("name", flat=True)[:MAX_NAMES])
    else:
        names = [str(obj) for obj in rows[:MAX_NAMES]]
    return {"names": sorted(names), "count": len(pks)}


# through model -> (verb, the model declaring the field, the field's name)
_MEMBERSHIPS: dict[Any, tuple[str, type[models.Model], str]] = {
    User.groups.through: ("user.groups_changed", User, "groups"),
    User.user_permissions.through: ("user.permissions_changed", User, "user_permissions"),
    Group.permissions.through: ("group.permissions_changed", Group, "permissions"),
    CostCenter.members.through: ("cost_center.members_changed", CostCenter, "members"),
    CostCenter.member_groups.through: ("cost_center.member_groups_changed", CostCenter, "member_groups"),
    CostCenter.approvers.through: ("cost_center.approvers_changed", CostCenter, "approvers"),
}
_ACTIONS = {"post_add": "added", "post_remove": "removed", "pre_clear": "removed"}


def _record_membership(
    owner: models.Model, verb: str, related: type[models.Model], how: str, pks: Any
) -> None:
    cost_center = owner if isinstance(owner, CostCenter) else None
    details = {how: _names(related, pks), "of": str(owner)[:200]}
    record(verb, actor=current_actor(), target=owner, cost_center=cost_center, details=details)


def on_membership_changed(
    sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kwargs: Any
) -> None:
    how = _ACTIONS.get(action)
    if how is None:
        return
    verb, owner_model, field_name = _MEMBERSHIPS[sender]
    field = owner_model._meta.get_field(field_name)
    related_model = field.related_model
    if action == "pre_clear":  # post_clear does not say what was there
        if reverse:
            pk_set = set(
                owner_model._default_manager.filter(**{field_name: instance}).values_list("pk", flat=True)
            )
        else:
            pk_set = set(getattr(instance, field_name).values_list("pk", flat=True))
    if not pk_set:
        return
    if not reverse:
        _record_membership(instance, verb, related_model, how, pk_set)
        return
    for owner in owner_model._default_manager.filter(pk__in=list(pk_set)).order_by("pk"):
        _record_membership(owner, verb, related_model, how, {instance.pk})


for _through in _MEMBERSHIPS:
    m2m_changed.connect(
        on_membership_changed, sender=_through, dispatch_uid=f"portal.audit.m2m.{_through._meta.label_lower}"
    )


# --- roles on namespaces ----------------------------------------------------------------------------


def _related_name(instance: models.Model, field: str) -> str:
    try:
        related = getattr(instance, field)
    except ObjectDoesNotExist:  # deleted in the same cascade
        return ""
    return str(related)[:200] if related is not None else ""


def _grant_details(grant: NamespaceGrant) -> dict[str, Any]:
    return {
        "namespace_pattern": grant.namespace_pattern,
        "role": grant.role,
        "user": _related_name(grant, "user"),
        "group": _related_name(grant, "group"),
    }


@receiver(post_save, sender=NamespaceGrant, dispatch_uid="portal.audit.namespace_grant_saved")
def on_grant_saved(
    sender: Any, instance: NamespaceGrant, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if not raw:
        verb = "role.granted" if created else "role.changed"
        record(verb, actor=current_actor(), target=instance, details=_grant_details(instance))


@receiver(post_delete, sender=NamespaceGrant, dispatch_uid="portal.audit.namespace_grant_deleted")
def on_grant_deleted(sender: Any, instance: NamespaceGrant, **kwargs: Any) -> None:
    """Also when its user or group is deleted (the grant goes with them)."""
    record("role.revoked", actor=current_actor(), target=instance, details=_grant_details(instance))


# --- admin actions ------------------------------------------------------------------------------------


@receiver(post_save, sender=LogEntry, dispatch_uid="portal.audit.admin_log_entry")
def on_admin_log_entry(
    sender: Any, instance: LogEntry, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        record_log_entry(instance)
