"""URL routes."""

from django.contrib import admin
from django.urls import include, path

from portal.api.api import api

admin.site.site_header = "Portico administration"
admin.site.site_title = "Portico admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("portal.api.urls")),  # the webhook
    path("api/v1/", api.urls),  # the REST API (django-ninja) and its /api/v1/openapi.json
    path("", include("portal.catalog.urls")),
    path("", include("portal.requests.urls")),
    path("", include("portal.executions.urls")),
    path("", include("portal.approvals.urls")),
    path("", include("portal.audit.urls")),
    path("", include("portal.resources.urls")),
    path("", include("portal.notifications.urls")),
]
