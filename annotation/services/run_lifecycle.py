"""The life of a training run record (reward-model runs, alignment runs): queued after commit → started by one
worker (or taken over from a dead one) → progress records → succeeded | failed | cancelled. Every state change and
progress step is announced to the project's dashboard group after commit."""

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerError
from psycopg import sql
from psycopg.types.json import Jsonb

from annotation.errors import AnnotationError, Conflict
from annotation.events import emit_project_event
from annotation.models import Project
from annotation.rawsql import json_safe
from annotation.run_records import RunRecord

logger = logging.getLogger(__name__)
EVENT_INTERVAL = 1.0  # seconds between progress events per run and process


# Lost connections (database restarted, broker away): the task is retried and the run resumes from its last
# checkpoint. Every other error is the run's own: recorded on the run, never retried.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError)


class RunCancelled(Exception):
    """A manager asked the run to stop; raised from the progress callback at the next step."""


class RunBusy(Exception):
    """The run is alive on another worker (its heartbeat is fresh): try again later, do not run it twice."""


_APPEND_METRIC_SQL = """
UPDATE {table}
SET metrics = metrics || jsonb_build_array(%(record)s::jsonb), step = %(step)s, progress = %(progress)s,
    heartbeat_at = now()
WHERE id = %(run)s
RETURNING cancel_requested, project_id
"""


# One round trip: the sign of life and the question "was a cancel asked for?".
_HEARTBEAT_SQL = "UPDATE {table} SET heartbeat_at = now() WHERE id = %(run)s RETURNING cancel_requested"


class RunLifecycle:
    """The state machine of one kind of run record; `event` names its dashboard event (e.g. reward_run.updated)."""

    def __init__(self, model: type[RunRecord], event: str, noun: str) -> None:
        self.model, self.event, self.noun = model, event, noun
        self._last_event: dict[int, float] = {}

    def announce(self, run: RunRecord | int, project_id: int | None = None) -> None:
        run = run if isinstance(run, self.model) else self.model.objects.get(pk=run)
        emit_project_event(project_id or run.project_id, self.event, {
            "run": run.pk, "state": run.state, "progress": round(run.progress, 4), "step": run.step,
            "error": run.error[:300],
        })

    def create(self, *, project: Project, user: AbstractBaseUser | None, config: dict,
               enqueue: Callable[[int], object], **fields) -> RunRecord:
        """Record the run and queue it after commit; one live run of this kind per project (a database rule)."""
        try:
            with transaction.atomic():
                run = self.model.objects.create(project=project, created_by=user, config=config, **fields)
                self.announce(run)
                transaction.on_commit(lambda: enqueue(run.pk))
        except IntegrityError as error:
            raise Conflict(f"{self.noun.capitalize()} is already queued or running for this project.") from error
        return run

    def start(self, *, run_id: int) -> RunRecord | None:
        """Claim the run for this worker. A queued run is started; a running one whose worker has been silent for
        RUN_STALE_SECONDS (it died, and the broker handed the task out again) is taken over; a running one with a
        fresh heartbeat raises RunBusy; a finished or cancelled one gives None."""
        model = self.model
        now = timezone.now()
        stale = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
        claimable = Q(state=model.State.QUEUED) | Q(state=model.State.RUNNING, heartbeat_at__lt=stale)
        updated = model.objects.filter(claimable, pk=run_id, cancel_requested=False).update(
            state=model.State.RUNNING, worker=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=now,
            started_at=Coalesce(F("started_at"), Value(now)),
        )
        if not updated:
            state = model.objects.filter(pk=run_id).values_list("state", "cancel_requested").first()
            if state == (model.State.RUNNING, False):
                raise RunBusy(f"run {run_id} is alive on another worker")
            if state == (model.State.QUEUED, True):
                self.mark_cancelled(run_id=run_id)  # cancelled while waiting for a worker
            return None
        run = model.objects.select_related("project").get(pk=run_id)
        self.announce(run)
        return run

    def progress(self, *, run_id: int, record: dict) -> bool:
        """Append one progress record (also the heartbeat); returns True when a cancel was requested."""
        total = record.get("total_steps") or 0
        step = int(record.get("step") or 0)
        progress = min(1.0, step / total) if total else 0.0
        statement = sql.SQL(_APPEND_METRIC_SQL).format(table=sql.Identifier(self.model._meta.db_table))
        with connection.cursor() as cursor:
            cursor.execute(statement, {"record": Jsonb(json_safe(record)), "step": step, "progress": progress,
                                       "run": run_id})
            cancel, project_id = cursor.fetchone()
        now = time.monotonic()
        if now - self._last_event.get(run_id, 0.0) >= EVENT_INTERVAL:
            self._last_event[run_id] = now
            self.announce(run_id, project_id)
        return cancel

    def heartbeat(self, *, run_id: int) -> bool:
        """A sign of life between progress records (long evaluation or generation); True when cancelled."""
        statement = sql.SQL(_HEARTBEAT_SQL).format(table=sql.Identifier(self.model._meta.db_table))
        with connection.cursor() as cursor:
            cursor.execute(statement, {"run": run_id})
            row = cursor.fetchone()
        return bool(row and row[0])

    def _finish(self, run_id: int, state: str, **fields) -> RunRecord:
        with transaction.atomic():
            self.model.objects.filter(pk=run_id).update(state=state, finished_at=timezone.now(), **fields)
            run = self.model.objects.get(pk=run_id)
            self.announce(run)
        return run

    def succeed(self, *, run_id: int, result: dict, artefacts: str) -> RunRecord:
        return self._finish(run_id, self.model.State.SUCCEEDED, result=json_safe(result), artefacts=artefacts,
                            progress=1.0)

    def fail(self, *, run_id: int, error: str) -> RunRecord:
        return self._finish(run_id, self.model.State.FAILED, error=error)

    def fail_if_live(self, *, run_id: int, error: BaseException) -> None:
        """For an error that escaped the run's own handling (a broken deployment, a bug before the run started):
        record it, rather than leave the run queued or running with nobody working on it."""
        live = (self.model.State.QUEUED, self.model.State.RUNNING)
        if self.model.objects.filter(pk=run_id, state__in=live).exists():
            self.fail(run_id=run_id, error=f"{type(error).__name__}: {error}")

    def mark_cancelled(self, *, run_id: int) -> RunRecord:
        return self._finish(run_id, self.model.State.CANCELLED)

    def cancel(self, *, run: RunRecord) -> RunRecord:
        """A queued run is cancelled at once; a running one stops at its next step."""
        model = self.model
        if run.state == model.State.QUEUED and model.objects.filter(pk=run.pk, state=model.State.QUEUED).update(
                state=model.State.CANCELLED, finished_at=timezone.now()):
            run.refresh_from_db()
            self.announce(run)
            return run
        if run.state not in (model.State.QUEUED, model.State.RUNNING):
            raise Conflict(f"This run has already {run.state}.")
        model.objects.filter(pk=run.pk).update(cancel_requested=True)
        run.refresh_from_db()
        return run


def run_task_body(task, *, run_id: int, lifecycle: RunLifecycle, execute: str) -> str | None:
    """What a training task does: import the run's pipeline `execute` (a dotted path: heavy imports happen on the
    worker, and a broken import is this run's error) and run it; a run alive on another worker is looked at again
    later; lost connections propagate to the task's autoretry; any other error that escaped the pipeline fails the
    run rather than leaving it live."""
    try:
        run = import_string(execute)(run_id=run_id)
    except RunBusy as busy:
        raise task.retry(countdown=settings.RUN_STALE_SECONDS) from busy
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:
        lifecycle.fail_if_live(run_id=run_id, error=error)
        raise
    return None if run is None else run.state


def scheduled_runs_start(*, schedules, run_model: type[RunRecord], due: Callable, start: Callable) -> list[int]:
    """Start a run for each enabled schedule that has no live run and is `due(schedule)`; returns the run ids.
    Safe to call from several beats at once: the database allows one live run per project and kind, so a second
    start is refused, not duplicated."""
    live = run_model.objects.filter(project_id=OuterRef("project_id"),
                                    state__in=[run_model.State.QUEUED, run_model.State.RUNNING])
    started = []
    for schedule in schedules.filter(enabled=True).annotate(live=Exists(live)).select_related("project"):
        if schedule.live or not due(schedule):
            continue
        try:
            run = start(schedule)
        except AnnotationError as error:
            logger.warning("scheduled %s for %s not started: %s", run_model.__name__, schedule.project,
                           error.message)
            continue
        started.append(run.pk)
    return started
