from django.contrib import admin

from annotation.admin import ProjectScopedAdmin
from rewards.models import RegistryEntry, RewardRun, TrainingSchedule


@admin.register(RewardRun)
class RewardRunAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "state", "progress", "step", "worker", "created_at", "finished_at"]
    list_filter = ["state"]
    readonly_fields = ["project", "state", "created_by", "config", "dataset", "progress", "step", "metrics", "result",
                       "artefacts", "error", "worker", "created_at", "started_at", "finished_at"]


@admin.register(RegistryEntry)
class RegistryEntryAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "kind", "score", "active", "promoted_at"]
    list_filter = ["kind", "active"]
    readonly_fields = ["project", "kind", "reward_run", "alignment_run", "model_dir", "score", "details", "promoted_at"]


@admin.register(TrainingSchedule)
class TrainingScheduleAdmin(ProjectScopedAdmin):
    list_display = ["project", "enabled", "min_new_judgements", "min_interval_minutes"]
