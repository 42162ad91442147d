from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("audit/", views.audit_log, name="list"),
    path("audit/export.csv", views.audit_export, name="export"),
    path("audit/export.jsonl", views.audit_export_jsonl, name="export_jsonl"),
]
