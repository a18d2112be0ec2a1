"""Scheduled reward-model training: a run starts when enough new judgements have arrived since the last one."""

from datetime import timedelta

from django.utils import timezone

from annotation.errors import InvalidInput
from annotation.models import Judgement
from annotation.services.run_lifecycle import scheduled_runs_start
from rewards.config import ConfigError, RewardConfig
from rewards.models import RewardRun, TrainingSchedule
from rewards.services.runs import reward_run_create


def new_judgements_since_last_run(schedule: TrainingSchedule) -> int:
    """Annotator judgements created after the last run of this project was created (all of them before any run)."""
    last = RewardRun.objects.filter(project_id=schedule.project_id).order_by("-created_at").first()
    judgements = Judgement.objects.filter(comparison__project_id=schedule.project_id, annotator__isnull=False)
    if last is not None:
        judgements = judgements.filter(created_at__gt=last.created_at)
    return judgements.count()


def training_due(schedule: TrainingSchedule, now=None) -> bool:
    """At least `min_interval_minutes` since the project's last run, and `min_new_judgements` new judgements."""
    now = now or timezone.now()
    last = RewardRun.objects.filter(project_id=schedule.project_id).order_by("-created_at").first()
    if last is not None and last.created_at > now - timedelta(minutes=schedule.min_interval_minutes):
        return False
    return new_judgements_since_last_run(schedule) >= schedule.min_new_judgements


def schedules_tick() -> list[int]:
    """Start the reward-model runs that are due; returns their ids."""
    return scheduled_runs_start(
        schedules=TrainingSchedule.objects.all(), run_model=RewardRun, due=training_due,
        start=lambda s: reward_run_create(project=s.project, user=None, config=s.reward_config,
                                          split_seed=s.split_seed))


def training_schedule_set(*, project, enabled: bool, min_new_judgements: int, min_interval_minutes: int,
                          reward_config: dict, split_seed: int = 0) -> TrainingSchedule:
    """Create or replace a project's schedule; its config is validated as a run's would be."""
    try:
        config = RewardConfig.from_dict(reward_config).to_dict()
    except ConfigError as error:
        raise InvalidInput("The reward-model config is not valid.", field_errors={"reward_config": [str(error)]}) from error
    schedule, _ = TrainingSchedule.objects.update_or_create(project=project, defaults={
        "enabled": enabled, "min_new_judgements": min_new_judgements, "min_interval_minutes": min_interval_minutes,
        "reward_config": config, "split_seed": split_seed})
    return schedule
