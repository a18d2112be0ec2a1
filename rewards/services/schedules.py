"""Scheduled reward-model training: a run starts when enough new judgements have arrived since the last one."""

import logging
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotation.errors import AnnotationError, InvalidInput
from annotation.models import Judgement
from rewards.config import ConfigError, RewardConfig
from rewards.models import RewardRun, TrainingSchedule
from rewards.services.runs import reward_run_create

logger = logging.getLogger(__name__)


def new_judgements_since_last_run(schedule: TrainingSchedule) -> int:
    """Annotator judgements created after the last run of this project was created (all of them before any run)."""
    last = RewardRun.objects.filter(project_id=schedule.project_id).order_by("-created_at").first()
    judgements = Judgement.objects.filter(comparison__project_id=schedule.project_id, annotator__isnull=False)
    if last is not None:
        judgements = judgements.filter(created_at__gt=last.created_at)
    return judgements.count()


def schedules_tick() -> list[int]:
    """Start the runs that are due; returns their ids. Safe to call from several beats at once: the database
    allows one live run per project, so a second start is refused, not duplicated."""
    started = []
    now = timezone.now()
    live = RewardRun.objects.filter(project_id=OuterRef("project_id"), state__in=["queued", "running"])
    due = TrainingSchedule.objects.filter(enabled=True).annotate(live=Exists(live))
    for schedule in due.select_related("project"):
        if schedule.live:
            continue
        last = RewardRun.objects.filter(project_id=schedule.project_id).order_by("-created_at").first()
        if last is not None and last.created_at > now - timedelta(minutes=schedule.min_interval_minutes):
            continue
        if new_judgements_since_last_run(schedule) < schedule.min_new_judgements:
            continue
        try:
            run = reward_run_create(project=schedule.project, user=None, config=schedule.reward_config,
                                    split_seed=schedule.split_seed)
        except AnnotationError as error:
            logger.warning("scheduled run for %s not started: %s", schedule.project, error.message)
            continue
        started.append(run.pk)
    return started


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
