"""Alignment runs and their schedule over REST (managers of the project; staff)."""

from rest_framework import serializers

from alignment.models import AlignmentRun, AlignmentSchedule
from alignment.services.runs import alignment_run_cancel, alignment_run_create
from alignment.services.schedules import alignment_schedule_set
from annotation.api.runs import run_views, schedule_view


class AlignmentRunOutput(serializers.ModelSerializer):
    class Meta:
        model = AlignmentRun
        fields = ["id", "state", "method", "config", "dataset", "progress", "step", "metrics", "result", "artefacts",
                  "error", "worker", "cancel_requested", "split_seed", "reward_entry", "created_at", "started_at",
                  "finished_at"]


AlignmentRunListCreateApi, AlignmentRunDetailApi, AlignmentRunCancelApi = run_views(
    model=AlignmentRun, output=AlignmentRunOutput, create=alignment_run_create, cancel=alignment_run_cancel)


class AlignmentScheduleInput(serializers.Serializer):
    enabled = serializers.BooleanField(default=True)
    after_reward_promotion = serializers.BooleanField(default=True)
    interval_minutes = serializers.IntegerField(min_value=0, default=0)
    alignment_config = serializers.DictField()
    split_seed = serializers.IntegerField(default=0)


AlignmentScheduleApi = schedule_view(
    model=AlignmentSchedule, input_serializer=AlignmentScheduleInput, save=alignment_schedule_set,
    fields=["enabled", "after_reward_promotion", "interval_minutes", "alignment_config", "split_seed"],
    what="alignment schedule")
