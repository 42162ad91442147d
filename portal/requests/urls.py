from django.urls import path

from . import self_service_views, views

app_name = "requests"
urlpatterns = [
    path("flows/<str:namespace>/<str:flow_id>/", views.new_request, name="new"),
    path("requests/", views.request_list, name="list"),
    path("requests/<int:pk>/", views.request_detail, name="detail"),
    path("requests/<int:pk>/cancel/", self_service_views.cancel_request, name="cancel"),
    path("requests/<int:pk>/resubmit/", self_service_views.resubmit_request, name="resubmit"),
    path("requests/<int:pk>/comments/", self_service_views.request_comments, name="comments"),
    path("requests/<int:pk>/live/", views.live_partial, name="live"),
]
