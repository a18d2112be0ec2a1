"""`manage.py seed_demo` + `manage.py demo_loop --setup-only`: the demo project is wired for the feedback loop."""

import pytest
from django.core.management import call_command

from alignment.models import AlignmentSchedule
from alignment.services.run_config import AlignmentRunConfig
from annotation.models import Comparison, Membership, Project
from rewards.config import RewardConfig
from rewards.models import TrainingSchedule

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_loop_sets_up_simulated_annotators_and_both_schedules(tiny_model_dir, settings, tmp_path):
    settings.BASE_DIR = tmp_path  # the demo's models are built under BASE_DIR/var/demo
    call_command("seed_demo", prompts=6, pairs_per_prompt=2)
    call_command("seed_demo", prompts=6, pairs_per_prompt=2)  # idempotent: nothing added the second time
    project = Project.objects.get(slug="demo")
    assert project.overlap == 3 and Comparison.objects.filter(project=project).count() == 12
    call_command("demo_loop", url="http://127.0.0.1:1", setup_only=True, generator=tiny_model_dir, judgements=16)
    annotators = set(Membership.objects.filter(project=project, role="annotator").values_list("user__username",
                                                                                             flat=True))
    assert {"sim-careful", "sim-noisy", "annotator"} <= annotators
    training = TrainingSchedule.objects.get(project=project)
    assert training.enabled and training.min_new_judgements == 16
    base = RewardConfig.from_dict(training.reward_config).model.base
    assert (tmp_path / "var" / "demo" / "reward-base" / "config.json").is_file() and base.endswith("reward-base")
    alignment = AlignmentSchedule.objects.get(project=project)
    assert alignment.after_reward_promotion and alignment.interval_minutes == 3
    config = AlignmentRunConfig.from_dict(alignment.alignment_config)
    assert config.generator == str(tiny_model_dir) and config.train["method"] == "flow-dpo"
    assert config.generate.adapter == "run" and config.generate.vary_seeds
