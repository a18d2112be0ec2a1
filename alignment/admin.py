from django.contrib import admin

from alignment.models import AlignmentRun, AlignmentSchedule
from annotation.admin import ProjectScopedAdmin


@admin.register(AlignmentRun)
class AlignmentRunAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "method", "state", "progress", "step", "worker", "created_at", "finished_at"]
    list_filter = ["state"]
    readonly_fields = ["project", "state", "created_by", "config", "dataset", "progress", "step", "metrics", "result",
                       "artefacts", "error", "worker", "reward_entry", "created_at", "started_at", "finished_at"]


@admin.register(AlignmentSchedule)
class AlignmentScheduleAdmin(ProjectScopedAdmin):
    list_display = ["project", "enabled", "after_reward_promotion", "interval_minutes"]
