"""The shape every training run record shares (reward-model runs, alignment runs): config, dataset used,
state machine, progress, metrics over time, artefacts, error, worker and timings."""

from django.conf import settings
from django.db import models
from django.db.models import Q

RUN_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class RunRecord(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    config = models.JSONField(default=dict, blank=True)
    dataset = models.JSONField(default=dict, blank=True, help_text="The export it trained on: files and sha256.")
    progress = models.FloatField(default=0.0)
    step = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=list, blank=True, help_text="Progress records over time.")
    result = models.JSONField(default=dict, blank=True)
    artefacts = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from its worker.")
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{type(self).__name__} #{self.pk} ({self.state})"

    @classmethod
    def run_constraints(cls, prefix: str) -> list:
        return [
            models.CheckConstraint(condition=Q(state__in=RUN_STATES), name=f"{prefix}_state_valid"),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name=f"{prefix}_progress_unit"),
            # Never two live runs of one kind on a project (queued or running).
            models.UniqueConstraint(fields=["project"], condition=Q(state__in=["queued", "running"]),
                                    name=f"{prefix}_one_live_run_per_project"),
        ]
