"""A run whose worker is killed mid-run is picked up by another worker and resumes from its checkpoint."""

import signal
import time

import pytest

from rewards.models import RewardRun
from rewards.services.runs import reward_run_create
from tests.conftest import start_worker, stop_worker
from tests.rewards.conftest import tiny_config
from tests.rewards.test_reward_runs import _judged_project

pytestmark = pytest.mark.django_db(transaction=True)
FAST_TAKEOVER = {"CELERY_VISIBILITY_TIMEOUT": "3", "RUN_STALE_SECONDS": "3"}


def _wait_for(predicate, seconds: float, what: str) -> RewardRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = RewardRun.objects.get()
        if predicate(run):
            return run
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {RewardRun.objects.values().get()}")


def test_killing_the_worker_mid_run_resumes_from_the_checkpoint(tmp_path_factory, tmp_path):
    from rewards.tiny_base import write_tiny_base

    base = write_tiny_base(tmp_path / "base", corpus=["a red circle moves left"])
    project, seed = _judged_project()
    config = tiny_config(base, epochs=1).to_dict()
    config["train"]["save_every_steps"] = 2
    log_dir = tmp_path_factory.getbasetemp()
    first = start_worker("gpu", log_dir / "celery-resume-1.log", **FAST_TAKEOVER)
    try:
        reward_run_create(project=project, user=None, config=config, split_seed=seed)
        running = _wait_for(lambda r: r.step >= 5, 240, "five training steps")
        first_worker = running.worker
        first.send_signal(signal.SIGKILL)  # no goodbye: the task stays unacknowledged
        first.wait(timeout=30)
        killed_at = RewardRun.objects.get().step
        assert running.state == RewardRun.State.RUNNING
    finally:
        if first.poll() is None:
            stop_worker(first)
    second = start_worker("gpu", log_dir / "celery-resume-2.log", **FAST_TAKEOVER)
    try:
        done = _wait_for(lambda r: r.state not in ("queued", "running"), 300, "the run to finish")
    finally:
        stop_worker(second)
    assert done.state == RewardRun.State.SUCCEEDED, done.error
    assert RewardRun.objects.count() == 1  # the same run row, not a second run
    assert done.worker != first_worker  # another worker process took the run over
    steps = [m["step"] for m in done.metrics if m.get("event") == "step"]
    # Resumed, not restarted: step 1 was trained once, every step up to the end was trained, and at most the
    # (at most two) steps after the last checkpoint (every 2 steps) before the kill were trained twice.
    assert steps.count(1) == 1
    assert sorted(set(steps)) == list(range(1, done.step + 1)) and steps[-1] == done.step
    assert done.step > killed_at
    assert len(steps) - len(set(steps)) <= 2  # a step may be logged just before its checkpoint is written
