from django.urls import path

from . import views

app_name = "api"
urlpatterns = [
    path(
        "executions/webhook/<str:namespace>/<str:flow_id>/<str:key>",
        views.webhook,
        name="webhook",
    ),
]
