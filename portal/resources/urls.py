from django.urls import path

from . import views

app_name = "resources"
urlpatterns = [
    path("resources/", views.resource_list, name="list"),
    path("resources/<int:pk>/", views.resource_detail, name="detail"),
    path("resources/<int:pk>/actions/<str:action>/", views.request_action, name="action"),
    path("resources/price/<str:namespace>/<str:flow_id>/", views.price, name="price"),
]
