"""Celery tasks of the reward side: thin adapters over services (routed to the `gpu` queue)."""

from celery import shared_task


@shared_task(name="rewards.tasks.train_reward_model", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def train_reward_model(run_id: int) -> str | None:
    # acks_late + reject_on_worker_lost: a worker that dies mid-run hands the task back to the queue, and the
    # next worker resumes the same run row from its last checkpoint.
    from rewards.services.pipeline import reward_run_execute

    run = reward_run_execute(run_id=run_id)
    return None if run is None else run.state


@shared_task(name="rewards.tasks.start_scheduled_runs", ignore_result=True)
def start_scheduled_runs() -> list[int]:
    from rewards.services.schedules import schedules_tick

    return schedules_tick()
