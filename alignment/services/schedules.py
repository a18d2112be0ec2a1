"""Scheduled alignment: a run starts after a new reward model was promoted, and/or every N minutes; never two at
once on a project (the database allows one live alignment run per project)."""

from datetime import timedelta

from django.utils import timezone

from alignment.models import AlignmentRun, AlignmentSchedule
from alignment.services.run_config import AlignmentRunConfig, RunConfigError
from alignment.services.runs import alignment_run_create
from annotation.errors import InvalidInput
from annotation.services.run_lifecycle import scheduled_runs_start
from rewards.models import RegistryEntry


def alignment_due(schedule: AlignmentSchedule, now=None) -> bool:
    now = now or timezone.now()
    last = AlignmentRun.objects.filter(project_id=schedule.project_id).order_by("-created_at").first()
    if schedule.after_reward_promotion:
        promotions = RegistryEntry.objects.filter(project_id=schedule.project_id, kind=RegistryEntry.Kind.REWARD)
        if last is not None:
            promotions = promotions.filter(promoted_at__gt=last.created_at)
        if promotions.exists():
            return True
    if schedule.interval_minutes:
        return last is None or last.created_at <= now - timedelta(minutes=schedule.interval_minutes)
    return False


def alignment_schedules_tick() -> list[int]:
    """Start the alignment runs that are due; returns their ids."""
    return scheduled_runs_start(
        schedules=AlignmentSchedule.objects.all(), run_model=AlignmentRun, due=alignment_due,
        start=lambda s: alignment_run_create(project=s.project, user=None, config=s.alignment_config,
                                             split_seed=s.split_seed))


def alignment_schedule_set(*, project, enabled: bool, after_reward_promotion: bool, interval_minutes: int,
                           alignment_config: dict, split_seed: int = 0) -> AlignmentSchedule:
    """Create or replace a project's alignment schedule; its config is validated as a run's would be."""
    try:
        config = AlignmentRunConfig.from_dict(alignment_config).to_dict()
    except (RunConfigError, ValueError) as error:
        raise InvalidInput("The alignment config is not valid.",
                           field_errors={"alignment_config": [str(error)]}) from error
    if not after_reward_promotion and not interval_minutes:
        raise InvalidInput("The schedule would never start a run.", field_errors={
            "interval_minutes": ["Set an interval, or start after reward-model promotions."]})
    schedule, _ = AlignmentSchedule.objects.update_or_create(project=project, defaults={
        "enabled": enabled, "after_reward_promotion": after_reward_promotion, "interval_minutes": interval_minutes,
        "alignment_config": config, "split_seed": split_seed})
    return schedule
