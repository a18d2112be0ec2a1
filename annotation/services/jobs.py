"""Background imports and exports: create a job (queued after commit), run it in a worker, record the outcome."""

import logging
import shutil
import time
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from annotation.errors import InvalidInput
from annotation.events import emit_project_event
from annotation.export.records import ExportFilters
from annotation.manifest import ManifestError
from annotation.models import Job, Project
from annotation.services.exports import ExportOptions, dataset_export
from annotation.services.imports import comparisons_import

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0  # seconds between progress writes
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


def job_folder(job: Job) -> Path:
    return Path(settings.JOBS_ROOT) / f"{job.kind}-{job.pk}"


def _enqueue(job: Job) -> None:
    from annotation.tasks import run_job  # the task module imports this one

    transaction.on_commit(lambda: run_job.delay(job.pk))


def _safe_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise InvalidInput("Bad file name.", field_errors={"videos": [f"{name!r} is not a plain file name."]})
    return name


@transaction.atomic
def job_create_import(
    *, project: Project, user: AbstractBaseUser, manifest: UploadedFile, videos: Iterable[UploadedFile] = (),
    skip_invalid: bool = False,
) -> Job:
    """Store the uploaded manifest and videos in the job's folder and queue the import."""
    suffix = Path(manifest.name or "").suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise InvalidInput("Unknown manifest format.", field_errors={"manifest": ["Upload a .csv or .jsonl file."]})
    job = Job.objects.create(project=project, kind=Job.Kind.IMPORT, created_by=user,
                             params={"skip_invalid": skip_invalid, "manifest": f"manifest{suffix}"})
    folder = job_folder(job)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with (folder / f"manifest{suffix}").open("wb") as handle:
            for chunk in manifest.chunks():
                handle.write(chunk)
        for video in videos:
            target = folder / _safe_name(video.name or "")
            with target.open("wb") as handle:
                for chunk in video.chunks():
                    handle.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _enqueue(job)
    return job


def job_create_export(*, project: Project, user: AbstractBaseUser, options: ExportOptions, name: str) -> Job:
    with transaction.atomic():
        job = Job.objects.create(project=project, kind=Job.Kind.EXPORT, created_by=user, params={
            "format": options.fmt, "split": options.split, "seed": options.seed, "split_vote": options.split_vote,
            "min_agreement": options.filters.min_agreement, "name": name,
            "since": options.filters.since.isoformat() if options.filters.since else None,
            "until": options.filters.until.isoformat() if options.filters.until else None,
            "annotators": list(options.filters.annotators), "sources": list(options.filters.sources),
            "exclude_below_gold_accuracy": options.exclude_below_gold_accuracy,
            "exclude_spammers": options.exclude_spammers,
        })
        _enqueue(job)
    return job


def _export_options(params: dict) -> ExportOptions:
    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(params[key]) if params.get(key) else None

    return ExportOptions(
        fmt=params["format"], split=params["split"], seed=params["seed"], split_vote=params["split_vote"],
        paths="media-root",
        filters=ExportFilters(since=when("since"), until=when("until"), annotators=tuple(params["annotators"]),
                              sources=tuple(params["sources"]), min_agreement=params["min_agreement"]),
        exclude_below_gold_accuracy=params["exclude_below_gold_accuracy"],
        exclude_spammers=params["exclude_spammers"],
    )


class _Progress:
    """Writes progress at most once a second, and tells the dashboard."""

    def __init__(self, job: Job) -> None:
        self.job, self.last = job, 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL and fraction < 1:
            return
        self.last = now
        Job.objects.filter(pk=self.job.pk).update(progress=round(min(max(fraction, 0.0), 1.0), 4))
        _announce(self.job, Job.State.RUNNING, fraction)


def _announce(job: Job, state: str, progress: float) -> None:
    emit_project_event(job.project_id, "job.updated", {"job": job.pk, "kind": job.kind, "state": state,
                                                       "progress": round(progress, 4)})


def _run_import(job: Job) -> tuple[dict, str]:
    folder = job_folder(job)
    report = comparisons_import(
        project=job.project, manifest=folder / job.params["manifest"],
        roots=[folder, Path(settings.MEDIA_ROOT)], skip_invalid=job.params["skip_invalid"], progress=_Progress(job),
    )
    error = "" if report.written else f"{len(report.errors)} invalid row(s); nothing was imported."
    return report.as_dict(), error


def _run_export(job: Job) -> tuple[dict, str]:
    folder = job_folder(job)
    options = _export_options(job.params)
    extension = {"videoalign": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}[options.fmt]
    output = folder / f"{job.params['name']}{extension}"
    result = dataset_export(project=job.project, output=output, options=options, progress=_Progress(job))
    final = Path(result.files[0])
    if len(result.files) > 1:
        final = folder / f"{job.params['name']}.zip"
        with zipfile.ZipFile(final, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in result.files:
                archive.write(file, Path(file).name)
    Job.objects.filter(pk=job.pk).update(output=str(final))
    return result.as_dict(), ""


def job_run(*, job_id: int) -> Job:
    """Run a queued job to its end; failures are recorded on the job, never raised to the worker."""
    updated = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=timezone.now())
    job = Job.objects.select_related("project").get(pk=job_id)
    if not updated:
        logger.info("job %s is %s; not running it again", job_id, job.state)
        return job
    _announce(job, Job.State.RUNNING, 0.0)
    try:
        result, error = (_run_import if job.kind == Job.Kind.IMPORT else _run_export)(job)
    except (InvalidInput, ManifestError) as failure:
        result, error = {}, str(failure)
    except Exception as failure:  # noqa: BLE001  (recorded for the manager; the worker stays up)
        logger.exception("job %s failed", job_id)
        result, error = {}, f"{type(failure).__name__}: {failure}"
    state = Job.State.FAILED if error else Job.State.SUCCEEDED
    with transaction.atomic():
        Job.objects.filter(pk=job_id).update(state=state, result=result, error=error, finished_at=timezone.now(),
                                             progress=1.0 if state == Job.State.SUCCEEDED else job.progress)
        _announce(job, state, 1.0)
    job.refresh_from_db()
    return job
