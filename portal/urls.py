"""URL routes."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Portico administration"
admin.site.site_title = "Portico admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("", include("portal.catalog.urls")),
    path("", include("portal.requests.urls")),
    path("", include("portal.executions.urls")),
    path("", include("portal.approvals.urls")),
    path("", include("portal.audit.urls")),
    path("", include("portal.resources.urls")),
]
