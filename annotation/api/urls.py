from django.urls import path
from rest_framework.authtoken.views import ObtainAuthToken

from annotation.api import jobs, views

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
    path("projects/<slug:slug>/imports/", jobs.ImportCreateApi.as_view(), name="project-imports"),
    path("projects/<slug:slug>/exports/", jobs.ExportCreateApi.as_view(), name="project-exports"),
    path("projects/<slug:slug>/jobs/", jobs.ProjectJobsApi.as_view(), name="project-jobs"),
    path("jobs/<int:job_id>/", jobs.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/download/", jobs.JobDownloadApi.as_view(), name="job-download"),
    path("videos/<int:video_id>/file/", views.VideoFileApi.as_view(), name="video-file"),
]
