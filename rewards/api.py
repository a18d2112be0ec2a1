"""Reward-model runs and the registry over REST (managers of the project; staff)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors
from annotation.api.runs import MANAGER, run_views, schedule_view
from rewards.models import RegistryEntry, RewardRun, TrainingSchedule
from rewards.services.runs import reward_run_cancel, reward_run_create
from rewards.services.schedules import training_schedule_set


class RewardRunOutput(serializers.ModelSerializer):
    class Meta:
        model = RewardRun
        fields = ["id", "state", "config", "dataset", "progress", "step", "metrics", "result", "artefacts", "error",
                  "worker", "cancel_requested", "split_seed", "created_at", "started_at", "finished_at"]


class RegistryOutput(serializers.ModelSerializer):
    class Meta:
        model = RegistryEntry
        fields = ["id", "kind", "reward_run", "alignment_run", "model_dir", "score", "details", "active", "promoted_at"]


RewardRunListCreateApi, RewardRunDetailApi, RewardRunCancelApi = run_views(
    model=RewardRun, output=RewardRunOutput, create=reward_run_create, cancel=reward_run_cancel)


class RegistryApi(APIView):
    @extend_schema(responses=RegistryOutput(many=True))
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        return Response(RegistryOutput(RegistryEntry.objects.filter(project=project), many=True).data)


class TrainingScheduleInput(serializers.Serializer):
    enabled = serializers.BooleanField(default=True)
    min_new_judgements = serializers.IntegerField(min_value=1, default=500)
    min_interval_minutes = serializers.IntegerField(min_value=0, default=60)
    reward_config = serializers.DictField()
    split_seed = serializers.IntegerField(default=0)


TrainingScheduleApi = schedule_view(
    model=TrainingSchedule, input_serializer=TrainingScheduleInput, save=training_schedule_set,
    fields=["enabled", "min_new_judgements", "min_interval_minutes", "reward_config", "split_seed"],
    what="training schedule")
