"""Reward-model run records: create (queued after commit), start, progress, finish, fail, cancel; promotion."""

import logging
import os
import socket
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from psycopg.types.json import Jsonb

from annotation.errors import Conflict, InvalidInput
from annotation.events import emit_project_event
from annotation.models import Project
from annotation.rawsql import json_safe
from rewards.config import ConfigError, RewardConfig
from rewards.models import RegistryEntry, RewardRun

logger = logging.getLogger(__name__)
LIVE = (RewardRun.State.QUEUED, RewardRun.State.RUNNING)
EVENT_INTERVAL = 1.0  # seconds between progress events per run and process
_last_event: dict[int, float] = {}


def _announce(run: RewardRun | int, project_id: int | None = None) -> None:
    run = run if isinstance(run, RewardRun) else RewardRun.objects.get(pk=run)
    emit_project_event(project_id or run.project_id, "reward_run.updated", {
        "run": run.pk, "state": run.state, "progress": round(run.progress, 4), "step": run.step,
        "error": run.error[:300],
    })


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

    try:
        with transaction.atomic():
            run = RewardRun.objects.create(project=project, created_by=user, config=parsed.to_dict(),
                                           split_seed=split_seed)
            _announce(run)
            transaction.on_commit(lambda: train_reward_model.delay(run.pk))
    except IntegrityError as error:
        raise Conflict("A reward-model run is already queued or running for this project.") from error
    return run


class RunBusy(Exception):
    """The run is alive on another worker (its heartbeat is fresh): try again later, do not run it twice."""


def reward_run_start(*, run_id: int) -> RewardRun | None:
    """Claim the run for this worker. A queued run is started; a running one whose worker has been silent for
    RUN_STALE_SECONDS (it died, and the broker handed the task out again) is taken over; a running one with a
    fresh heartbeat raises RunBusy; a finished or cancelled one gives None."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
    claimable = Q(state=RewardRun.State.QUEUED) | Q(state=RewardRun.State.RUNNING, heartbeat_at__lt=stale)
    updated = RewardRun.objects.filter(claimable, pk=run_id, cancel_requested=False).update(
        state=RewardRun.State.RUNNING, worker=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    if not updated:
        state = RewardRun.objects.filter(pk=run_id).values_list("state", "cancel_requested").first()
        if state == (RewardRun.State.RUNNING, False):
            raise RunBusy(f"run {run_id} is alive on another worker")
        if state == (RewardRun.State.QUEUED, True):
            reward_run_mark_cancelled(run_id=run_id)  # cancelled while waiting for a worker
        return None
    run = RewardRun.objects.select_related("project").get(pk=run_id)
    _announce(run)
    return run


_APPEND_METRIC_SQL = """
UPDATE rewards_rewardrun
SET metrics = metrics || jsonb_build_array(%(record)s::jsonb), step = %(step)s, progress = %(progress)s,
    heartbeat_at = now()
WHERE id = %(run)s
RETURNING cancel_requested, project_id
"""


def reward_run_progress(*, run_id: int, record: dict) -> bool:
    """Append one progress record; returns True when a cancel was requested (the loop stops at this step)."""
    total = record.get("total_steps") or 0
    step = int(record.get("step") or 0)
    progress = min(1.0, step / total) if total else 0.0
    with connection.cursor() as cursor:
        cursor.execute(_APPEND_METRIC_SQL, {"record": Jsonb(json_safe(record)), "step": step, "progress": progress,
                                            "run": run_id})
        cancel, project_id = cursor.fetchone()
    now = time.monotonic()
    if now - _last_event.get(run_id, 0.0) >= EVENT_INTERVAL:
        _last_event[run_id] = now
        _announce(run_id, project_id)
    return cancel


def _finish(run_id: int, state: str, **fields) -> RewardRun:
    with transaction.atomic():
        RewardRun.objects.filter(pk=run_id).update(state=state, finished_at=timezone.now(), **fields)
        run = RewardRun.objects.get(pk=run_id)
        _announce(run)
    return run


def reward_run_succeed(*, run_id: int, result: dict, artefacts: str) -> RewardRun:
    return _finish(run_id, RewardRun.State.SUCCEEDED, result=json_safe(result), artefacts=artefacts, progress=1.0)


def reward_run_fail(*, run_id: int, error: str) -> RewardRun:
    return _finish(run_id, RewardRun.State.FAILED, error=error)


def reward_run_mark_cancelled(*, run_id: int) -> RewardRun:
    return _finish(run_id, RewardRun.State.CANCELLED)


def reward_run_cancel(*, run: RewardRun) -> RewardRun:
    """A queued run is cancelled at once; a running one stops at its next step."""
    if run.state == RewardRun.State.QUEUED and RewardRun.objects.filter(
            pk=run.pk, state=RewardRun.State.QUEUED).update(state=RewardRun.State.CANCELLED, finished_at=timezone.now()):
        run.refresh_from_db()
        _announce(run)
        return run
    if run.state not in LIVE:
        raise Conflict(f"This run has already {run.state}.")
    RewardRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run.refresh_from_db()
    return run


@transaction.atomic
def registry_promote(*, project: Project, run: RewardRun, model_dir: str, score: float) -> RegistryEntry:
    """Make this model the project's active reward model; the previous one stays as history."""
    RegistryEntry.objects.select_for_update().filter(project=project, kind=RegistryEntry.Kind.REWARD, active=True).update(
        active=False)
    entry = RegistryEntry.objects.create(project=project, kind=RegistryEntry.Kind.REWARD, reward_run=run,
                                         model_dir=model_dir, score=score)
    emit_project_event(project.pk, "registry.updated", {"kind": "reward", "run": run.pk, "score": score})
    return entry
