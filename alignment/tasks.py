"""Celery tasks of alignment: thin adapters over services (training on the `gpu` queue, the beat check on
`default`)."""

from celery import shared_task

from annotation.services.run_lifecycle import TRANSIENT_ERRORS, run_task_body


@shared_task(bind=True, name="alignment.tasks.align_generator", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=None, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True,
             retry_backoff_max=600, retry_kwargs={"max_retries": 5})
def align_generator(self, run_id: int) -> str | None:
    # Same delivery contract as reward training: a dead worker's run is handed out again and resumed from its
    # last checkpoint; a live one elsewhere is left alone and looked at later.
    from alignment.services.runs import ALIGNMENT_RUNS

    return run_task_body(self, run_id=run_id, lifecycle=ALIGNMENT_RUNS,
                         execute="alignment.services.pipeline.alignment_run_execute")


@shared_task(name="alignment.tasks.start_scheduled_alignments", ignore_result=True)
def start_scheduled_alignments() -> list[int]:
    from alignment.services.schedules import alignment_schedules_tick

    return alignment_schedules_tick()
