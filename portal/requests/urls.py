from django.urls import path

from . import views

app_name = "requests"
urlpatterns = [
    path("flows/<str:namespace>/<str:flow_id>/", views.new_request, name="new"),
    path("requests/", views.request_list, name="list"),
    path("requests/<int:pk>/", views.request_detail, name="detail"),
    path("requests/<int:pk>/execution/", views.execution_partial, name="execution"),
]
