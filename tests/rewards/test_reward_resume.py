"""A run whose worker is killed mid-run is picked up by another worker and resumes from its checkpoint."""

import pytest

from rewards.models import RewardRun
from rewards.services.runs import reward_run_create
from tests.conftest import run_with_a_killed_worker
from tests.rewards.conftest import tiny_config
from tests.rewards.test_reward_runs import _judged_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_killing_the_worker_mid_run_resumes_from_the_checkpoint(tmp_path_factory, tmp_path):
    from rewards.tiny_base import write_tiny_base

    base = write_tiny_base(tmp_path / "base", corpus=["a red circle moves left"])
    project, seed = _judged_project()
    # Four epochs of ~10 small steps: on a quiet machine one epoch ran to its end before the kill at step 5 landed.
    config = tiny_config(base, epochs=4).to_dict()
    config["train"]["save_every_steps"] = 2
    running, killed_at, done = run_with_a_killed_worker(
        RewardRun, lambda: reward_run_create(project=project, user=None, config=config, split_seed=seed),
        kill_at_step=5, log_dir=tmp_path_factory.getbasetemp(), name="resume", finish_within=300)
    first_worker = running.worker
    assert running.state == RewardRun.State.RUNNING
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
