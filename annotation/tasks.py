"""Celery tasks of the annotation app: thin adapters over services."""

from celery import shared_task

from annotation.services.leases import leases_reclaim_expired


@shared_task(name="annotation.tasks.reclaim_expired_leases", ignore_result=True)
def reclaim_expired_leases() -> int:
    return leases_reclaim_expired()
