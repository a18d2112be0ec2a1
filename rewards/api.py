"""Reward-model runs and the registry over REST (managers of the project; staff)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors
from annotation.errors import NotFound
from annotation.models import Membership
from rewards.models import RegistryEntry, RewardRun, TrainingSchedule
from rewards.services.runs import reward_run_cancel, reward_run_create
from rewards.services.schedules import training_schedule_set

MANAGER = (Membership.Role.MANAGER,)


class RewardRunOutput(serializers.ModelSerializer):
    class Meta:
        model = RewardRun
        fields = ["id", "state", "config", "dataset", "progress", "step", "metrics", "result", "artefacts", "error",
                  "worker", "cancel_requested", "split_seed", "created_at", "started_at", "finished_at"]


class RegistryOutput(serializers.ModelSerializer):
    class Meta:
        model = RegistryEntry
        fields = ["id", "kind", "reward_run", "model_dir", "score", "active", "promoted_at"]


class RewardRunListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        config = serializers.DictField()
        split_seed = serializers.IntegerField(default=0)

    @extend_schema(responses=RewardRunOutput(many=True))
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        return Response(RewardRunOutput(RewardRun.objects.filter(project=project)[:50], many=True).data)

    @extend_schema(request=InputSerializer, responses={202: RewardRunOutput})
    def post(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = reward_run_create(project=project, user=request.user, **data.validated_data)
        return Response(RewardRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


def _run_for_manager(request, run_id: int) -> RewardRun:
    return selectors.managed_object(queryset=RewardRun.objects.all(), pk=run_id, user=request.user, what="run")


class RewardRunDetailApi(APIView):
    @extend_schema(responses=RewardRunOutput)
    def get(self, request, run_id: int):
        return Response(RewardRunOutput(_run_for_manager(request, run_id)).data)


class RewardRunCancelApi(APIView):
    @extend_schema(request=None, responses=RewardRunOutput)
    def post(self, request, run_id: int):
        return Response(RewardRunOutput(reward_run_cancel(run=_run_for_manager(request, run_id))).data)


class RegistryApi(APIView):
    @extend_schema(responses=RegistryOutput(many=True))
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        return Response(RegistryOutput(RegistryEntry.objects.filter(project=project), many=True).data)


class TrainingScheduleApi(APIView):
    class InputSerializer(serializers.Serializer):
        enabled = serializers.BooleanField(default=True)
        min_new_judgements = serializers.IntegerField(min_value=1, default=500)
        min_interval_minutes = serializers.IntegerField(min_value=0, default=60)
        reward_config = serializers.DictField()
        split_seed = serializers.IntegerField(default=0)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = TrainingSchedule
            fields = ["enabled", "min_new_judgements", "min_interval_minutes", "reward_config", "split_seed"]

    @extend_schema(responses=OutputSerializer)
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        schedule = TrainingSchedule.objects.filter(project=project).first()
        if schedule is None:
            raise NotFound("This project has no training schedule.")
        return Response(self.OutputSerializer(schedule).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def put(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = training_schedule_set(project=project, **data.validated_data)
        return Response(self.OutputSerializer(schedule).data)
