"""Django models of alignment: alignment runs and when they start by themselves."""

from django.db import models

from annotation.run_records import RunRecord


class AlignmentRun(RunRecord):
    """One alignment run: export → preference pairs (from the labels, or re-labelled by the promoted reward model)
    → Flow-DPO / Flow-RWR / SFT LoRA → win rates against the pretrained and the promoted generator on the same
    held-out prompts and seeds → promote if better → optionally generate videos that return as comparisons."""

    split_seed = models.IntegerField(default=0, help_text="Seed of the prompt-level train/val/test split.")
    reward_entry = models.ForeignKey("rewards.RegistryEntry", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", help_text="The promoted reward model it was judged by.")

    class Meta(RunRecord.Meta):
        constraints = RunRecord.run_constraints("alignmentrun")

    @property
    def method(self) -> str:
        return (self.config.get("train") or {}).get("method", "")


class AlignmentSchedule(models.Model):
    """When a project's generator is aligned again by itself: after each newly promoted reward model, and/or every
    `interval_minutes` (0 = never by time), checked by Celery beat."""

    project = models.OneToOneField("annotation.Project", on_delete=models.CASCADE, related_name="alignment_schedule")
    enabled = models.BooleanField(default=True)
    after_reward_promotion = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=0)
    alignment_config = models.JSONField(help_text="The config of scheduled alignment runs.")
    split_seed = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"alignment schedule of {self.project}"
