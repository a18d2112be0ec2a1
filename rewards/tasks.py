"""Celery tasks of the reward side: thin adapters over services (routed to the `gpu` queue)."""

from celery import shared_task

from annotation.services.run_lifecycle import TRANSIENT_ERRORS, run_task_body


@shared_task(bind=True, name="rewards.tasks.train_reward_model", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=None, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True,
             retry_backoff_max=600, retry_kwargs={"max_retries": 5})
def train_reward_model(self, run_id: int) -> str | None:
    # acks_late + reject_on_worker_lost: a worker that dies mid-run leaves the task unacknowledged, the broker
    # hands it out again, and the next worker resumes the same run row from its last checkpoint. If the first
    # worker is in fact alive (a long run outlasting the broker's visibility timeout), look again later.
    from rewards.services.runs import REWARD_RUNS

    return run_task_body(self, run_id=run_id, lifecycle=REWARD_RUNS,
                         execute="rewards.services.pipeline.reward_run_execute")


@shared_task(name="rewards.tasks.start_scheduled_runs", ignore_result=True)
def start_scheduled_runs() -> list[int]:
    from rewards.services.schedules import schedules_tick

    return schedules_tick()
