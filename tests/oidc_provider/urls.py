from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("o/token/", views.MisbehavingTokenView.as_view()),  # before the toolkit's own token URL
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("_test/user", views.set_user),
    path("_test/mode", views.set_mode),
]
