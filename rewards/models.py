"""Django models of the reward side: reward-model runs and the per-project model registry."""

from django.db import models
from django.db.models import Q

from annotation.run_records import RunRecord


class RewardRun(RunRecord):
    """One reward-model training run: export → train → evaluate → promote if better on the same held-out split."""

    split_seed = models.IntegerField(default=0, help_text="Seed of the prompt-level train/val/test split.")

    class Meta(RunRecord.Meta):
        constraints = RunRecord.run_constraints("rewardrun")


class RegistryEntry(models.Model):
    """A model promoted for a project; the active entry per kind is the one in use, the rest is history."""

    class Kind(models.TextChoices):
        REWARD = "reward"
        GENERATOR = "generator"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="registry")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reward_run = models.ForeignKey(RewardRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    alignment_run = models.ForeignKey("alignment.AlignmentRun", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")
    model_dir = models.CharField(max_length=500, help_text="Reward checkpoint, or the generator adapter (LoRA).")
    score = models.FloatField(help_text="Reward model: held-out accuracy without ties (mean of VQ, MQ, TA). "
                                        "Generator: mean win rate against the pretrained generator.")
    details = models.JSONField(default=dict, blank=True, help_text="Generator: its base model directory, win rates.")
    active = models.BooleanField(default=True)
    promoted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-promoted_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind"], condition=Q(active=True),
                                    name="registry_one_active_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=["reward", "generator"]), name="registry_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.project} ({'active' if self.active else 'history'})"


class TrainingSchedule(models.Model):
    """When a project's reward model retrains by itself: after `min_new_judgements` new judgements since the last
    run, at most once per `min_interval_minutes` (checked by Celery beat)."""

    project = models.OneToOneField("annotation.Project", on_delete=models.CASCADE, related_name="training_schedule")
    enabled = models.BooleanField(default=True)
    min_new_judgements = models.PositiveIntegerField(default=500)
    min_interval_minutes = models.PositiveIntegerField(default=60)
    reward_config = models.JSONField(help_text="The RewardConfig of scheduled runs (sections video, model, train).")
    split_seed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(min_new_judgements__gte=1), name="schedule_min_judgements_positive"),
        ]

    def __str__(self) -> str:
        return f"schedule of {self.project}"
