from django.urls import path

from . import git_views, views

app_name = "catalog"
urlpatterns = [
    path("", views.catalog_index, name="index"),
    path("git-sources/<int:source_id>/webhook", git_views.git_webhook, name="git-webhook"),
]
