"""Pages: sign-in, the project list, the annotation page (annotators) and the dashboard (managers)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="frontend/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("projects/<slug:slug>/annotate/", views.annotate, name="annotate"),
    path("projects/<slug:slug>/annotate/progress/", views.annotate_progress, name="annotate-progress"),
    path("projects/<slug:slug>/dashboard/", views.dashboard, name="dashboard"),
]
