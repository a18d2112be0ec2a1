from django.urls import path

from rewards import api

app_name = "rewards"

urlpatterns = [
    path("projects/<slug:slug>/reward-runs/", api.RewardRunListCreateApi.as_view(), name="reward-runs"),
    path("projects/<slug:slug>/training-schedule/", api.TrainingScheduleApi.as_view(), name="training-schedule"),
    path("projects/<slug:slug>/registry/", api.RegistryApi.as_view(), name="registry"),
    path("reward-runs/<int:run_id>/", api.RewardRunDetailApi.as_view(), name="reward-run"),
    path("reward-runs/<int:run_id>/cancel/", api.RewardRunCancelApi.as_view(), name="reward-run-cancel"),
]
