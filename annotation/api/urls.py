from django.urls import path
from rest_framework.authtoken.views import ObtainAuthToken

from annotation.api import views

app_name = "api"

urlpatterns = [
    path("auth/token/", ObtainAuthToken.as_view(), name="token"),
    path("projects/", views.ProjectListApi.as_view(), name="project-list"),
    path("projects/<slug:slug>/next/", views.NextAssignmentApi.as_view(), name="project-next"),
    path("projects/<slug:slug>/progress/", views.ProjectProgressApi.as_view(), name="project-progress"),
    path("projects/<slug:slug>/quality/", views.ProjectQualityApi.as_view(), name="project-quality"),
    path("assignments/<int:assignment_id>/submit/", views.SubmitAssignmentApi.as_view(), name="assignment-submit"),
    path("assignments/<int:assignment_id>/skip/", views.SkipAssignmentApi.as_view(), name="assignment-skip"),
    path(
        "assignments/<int:assignment_id>/heartbeat/", views.HeartbeatAssignmentApi.as_view(), name="assignment-heartbeat"
    ),
    path("videos/<int:video_id>/file/", views.VideoFileApi.as_view(), name="video-file"),
]
