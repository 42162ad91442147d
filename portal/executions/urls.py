from django.urls import path

from . import views

app_name = "executions"
urlpatterns = [
    path("executions/", views.execution_list, name="list"),
    path("executions/<uuid:pk>/", views.detail, name="detail"),
    path("executions/<uuid:pk>/live/", views.live, name="live"),
    path("executions/<uuid:pk>/logs/", views.logs, name="logs"),
    path("executions/<uuid:pk>/kill/", views.kill, name="kill"),
    path("executions/<uuid:pk>/resume/", views.resume, name="resume"),
    path("executions/<uuid:pk>/restart/", views.restart, name="restart"),
    path("executions/<uuid:pk>/replay/", views.replay, name="replay"),
]
