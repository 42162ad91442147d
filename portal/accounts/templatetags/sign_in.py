"""What the login page offers: the password form only while PORTICO_PASSWORD_LOGIN is on."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def password_login_enabled() -> bool:
    return bool(settings.PORTICO_PASSWORD_LOGIN)
