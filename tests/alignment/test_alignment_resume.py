"""An alignment run whose worker is killed mid-run is picked up by another worker and resumes its LoRA training
from the last checkpoint: the same run row, the step counter continuing."""

import pytest

from alignment.models import AlignmentRun
from alignment.services.runs import alignment_run_create
from tests.alignment.test_alignment_runs import _project_with_labels, _run_config
from tests.conftest import run_with_a_killed_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_killing_the_worker_mid_alignment_resumes_from_the_checkpoint(tmp_path_factory, tmp_path):
    from alignment.generator import build_tiny_generator
    from rewards.tiny_base import write_tiny_base
    from rewards.train import train as train_reward
    from tests.alignment.test_alignment_runs import PROMPTS
    from tests.rewards.conftest import tiny_config
    from tests.rewards.reward_clips import brightness_dataset

    generator = build_tiny_generator(tmp_path / "generator", seed=0)
    base = write_tiny_base(tmp_path / "rm-base", corpus=PROMPTS[:2])
    reward = train_reward(brightness_dataset(tmp_path / "rm-data", levels=3), tiny_config(base, epochs=1),
                          tmp_path / "rm")
    project, seed = _project_with_labels(reward.model_dir)
    # Many small steps, a checkpoint every 2: the kill lands mid-training.
    config = _run_config(generator, max_steps=120, checkpoint_every=2, learning_rate=1e-3)
    running, killed_at, done = run_with_a_killed_worker(
        AlignmentRun, lambda: alignment_run_create(project=project, user=None, config=config, split_seed=seed),
        kill_at_step=6, log_dir=tmp_path_factory.getbasetemp(), name="align-resume", finish_within=600)
    first_worker = running.worker
    assert killed_at < 120
    assert done.state == AlignmentRun.State.SUCCEEDED, done.error
    assert AlignmentRun.objects.count() == 1 and done.worker != first_worker
    steps = [m["step"] for m in done.metrics]
    # Resumed, not restarted: step 1 trained once, every step to 120 trained, at most the two steps after the last
    # checkpoint before the kill trained twice.
    assert steps.count(1) == 1
    assert sorted(set(steps)) == list(range(1, 121)) and done.step == 120 and done.step > killed_at
    assert len(steps) - len(set(steps)) <= 2
