"""Celery tasks of the reward side: thin adapters over services (routed to the `gpu` queue)."""

from celery import shared_task


@shared_task(bind=True, name="rewards.tasks.train_reward_model", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=None)
def train_reward_model(self, run_id: int) -> str | None:
    # acks_late + reject_on_worker_lost: a worker that dies mid-run leaves the task unacknowledged, the broker
    # hands it out again, and the next worker resumes the same run row from its last checkpoint. If the first
    # worker is in fact alive (a long run outlasting the broker's visibility timeout), look again later.
    from django.conf import settings

    from rewards.services.pipeline import reward_run_execute
    from rewards.services.runs import RunBusy

    try:
        run = reward_run_execute(run_id=run_id)
    except RunBusy as busy:
        raise self.retry(countdown=settings.RUN_STALE_SECONDS) from busy
    return None if run is None else run.state


@shared_task(name="rewards.tasks.start_scheduled_runs", ignore_result=True)
def start_scheduled_runs() -> list[int]:
    from rewards.services.schedules import schedules_tick

    return schedules_tick()
