"""The header's bell (``{% load bell %}``): how many of one's in-app notifications are unread."""

from __future__ import annotations

from typing import Any

from django import template

from .. import in_app

register = template.Library()


@register.simple_tag
def unread_notifications(user: Any) -> int:
    return in_app.unread_count(user)
