"""Reward-model run records (the shared run life cycle bound to RewardRun) and promotion into the registry."""

from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.errors import InvalidInput
from annotation.events import emit_project_event
from annotation.models import Project
from annotation.run_records import RunRecord
from annotation.services.run_lifecycle import RunBusy, RunLifecycle
from rewards.config import ConfigError, RewardConfig
from rewards.models import RegistryEntry, RewardRun

__all__ = ["RunBusy", "REWARD_RUNS", "reward_run_create", "reward_run_start", "reward_run_progress",
           "reward_run_succeed", "reward_run_fail", "reward_run_mark_cancelled", "reward_run_cancel",
           "registry_promote"]

REWARD_RUNS = RunLifecycle(RewardRun, "reward_run.updated", "a reward-model run")


def reward_run_create(*, project: Project, user: AbstractBaseUser | None, config: dict, split_seed: int = 0) -> RewardRun:
    """Validate the config, record the run and queue it on the `gpu` queue after commit."""
    try:
        parsed = RewardConfig.from_dict(config)
    except ConfigError as error:
        raise InvalidInput("The reward-model config is not valid.", field_errors={"config": [str(error)]}) from error
    if not parsed.model.base or not Path(parsed.model.base).is_dir():
        raise InvalidInput("The base model is missing.",
                           field_errors={"config": [f"model.base {parsed.model.base!r} is not a local directory."]})
    from rewards.tasks import train_reward_model  # the task module imports this one

    return REWARD_RUNS.create(project=project, user=user, config=parsed.to_dict(), enqueue=train_reward_model.delay,
                              split_seed=split_seed)


def reward_run_start(*, run_id: int) -> RewardRun | None:
    return REWARD_RUNS.start(run_id=run_id)


def reward_run_progress(*, run_id: int, record: dict) -> bool:
    return REWARD_RUNS.progress(run_id=run_id, record=record)


def reward_run_succeed(*, run_id: int, result: dict, artefacts: str) -> RewardRun:
    return REWARD_RUNS.succeed(run_id=run_id, result=result, artefacts=artefacts)


def reward_run_fail(*, run_id: int, error: str) -> RewardRun:
    return REWARD_RUNS.fail(run_id=run_id, error=error)


def reward_run_mark_cancelled(*, run_id: int) -> RewardRun:
    return REWARD_RUNS.mark_cancelled(run_id=run_id)


def reward_run_cancel(*, run: RewardRun) -> RewardRun:
    return REWARD_RUNS.cancel(run=run)


@transaction.atomic
def registry_promote(*, project: Project, run: RunRecord, model_dir: str, score: float,
                     kind: str = RegistryEntry.Kind.REWARD, details: dict | None = None) -> RegistryEntry:
    """Make this model the project's active one of its kind (reward model or generator adapter); the previous one
    stays as history."""
    RegistryEntry.objects.select_for_update().filter(project=project, kind=kind, active=True).update(active=False)
    run_field = "reward_run" if kind == RegistryEntry.Kind.REWARD else "alignment_run"
    entry = RegistryEntry.objects.create(project=project, kind=kind, model_dir=model_dir, score=score,
                                         details=details or {}, **{run_field: run})
    emit_project_event(project.pk, "registry.updated", {"kind": str(kind), "run": run.pk, "score": score})
    return entry
