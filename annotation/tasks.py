"""Celery tasks of the annotation app: thin adapters over services."""

from celery import shared_task

from annotation.services.jobs import job_run
from annotation.services.leases import leases_reclaim_expired


@shared_task(name="annotation.tasks.reclaim_expired_leases", ignore_result=True)
def reclaim_expired_leases() -> int:
    return leases_reclaim_expired()


@shared_task(name="annotation.tasks.run_job", ignore_result=True, acks_late=True)
def run_job(job_id: int) -> str:
    return job_run(job_id=job_id).state
