from django.urls import path

from . import views

app_name = "approvals"
urlpatterns = [
    path("approvals/", views.queue, name="queue"),
    path("approvals/<int:pk>/decide/", views.decide, name="decide"),
    path("approvals/decide/", views.bulk_decide, name="bulk_decide"),
    path("approvals/email/<str:token>/", views.email_confirm, name="email_confirm"),
]
