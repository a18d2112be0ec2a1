from django.urls import path

from alignment import api

app_name = "alignment"

urlpatterns = [
    path("projects/<slug:slug>/alignment-runs/", api.AlignmentRunListCreateApi.as_view(), name="alignment-runs"),
    path("projects/<slug:slug>/alignment-schedule/", api.AlignmentScheduleApi.as_view(), name="alignment-schedule"),
    path("alignment-runs/<int:run_id>/", api.AlignmentRunDetailApi.as_view(), name="alignment-run"),
    path("alignment-runs/<int:run_id>/cancel/", api.AlignmentRunCancelApi.as_view(), name="alignment-run-cancel"),
]
