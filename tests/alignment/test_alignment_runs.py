"""Alignment runs on a real Celery worker: labels → Flow-DPO LoRA → win rates judged by the promoted reward model
→ promotion rule → generated videos back in the annotation queue; failures; schedules; roles."""

import hashlib
from pathlib import Path

import pytest
from django.conf import settings

from alignment.models import AlignmentRun, AlignmentSchedule
from alignment.services.generated import uncertainty_queue_key
from alignment.services.schedules import alignment_schedule_set, alignment_schedules_tick
from annotation.export.aggregate import split_of
from annotation.models import Comparison
from annotation.services.comparisons import comparison_create, prompt_get_or_create
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from annotation.services.videos import video_register_file
from rewards.models import RegistryEntry, RewardRun
from rewards.scorer import RewardScorer
from rewards.services.runs import registry_promote
from rewards.tiny_base import write_tiny_base
from rewards.train import train as train_reward
from tests.annotation.clips import write_clip
from tests.annotation.factories import claim, make_member, make_project
from tests.conftest import finished_run
from tests.rewards.conftest import tiny_config
from tests.rewards.reward_clips import brightness_dataset

pytestmark = pytest.mark.django_db(transaction=True)
DIMS = ("VQ", "MQ", "TA")
PROMPTS = [f"a {colour} {shape} moves {way}" for colour in ("red", "blue") for shape in ("circle", "square", "star")
           for way in ("left", "up")]


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory) -> Path:
    """A tiny trained reward checkpoint (the project's promoted reward model in these tests)."""
    root = tmp_path_factory.mktemp("align_rm")
    base = write_tiny_base(root / "base", corpus=PROMPTS[:2])
    result = train_reward(brightness_dataset(root / "data", levels=4), tiny_config(base, epochs=1), root / "run")
    return Path(result.model_dir)


def _train_config(**overrides) -> dict:
    return {"method": "flow-dpo", "beta": 100.0, "learning_rate": 1e-3, "max_steps": 4, "batch_size": 2,
            "checkpoint_every": 2, "lora": {"rank": 2, "alpha": 2.0},
            "clip": {"num_frames": 5, "height": 32, "width": 32}, **overrides}


def _run_config(generator: Path, generate: bool = False, **train) -> dict:
    config = {"generator": str(generator), "pairs": "labels", "train": _train_config(**train),
              "evaluation": {"prompts": 2, "seeds": [0], "steps": 2, "cfg": 2.0}}
    if generate:
        config["generate"] = {"prompts": 2, "seeds": [0, 1, 2], "steps": 2, "cfg": 2.0, "active_selection": True}
    return config


def _project_with_labels(reward_dir: Path, labels=("A", "B")):
    """12 prompts × 1 comparison of 9-frame clips, judged by one annotator; the reward model promoted."""
    project = make_project()
    media = Path(settings.MEDIA_ROOT)
    for i, text in enumerate(PROMPTS):
        prompt = prompt_get_or_create(project=project, text=text)
        a = video_register_file(path=write_clip(media / f"align-{project.slug}/{i}a.mp4", frames=9, colour=2 * i),
                                generator="g-a")
        b = video_register_file(path=write_clip(media / f"align-{project.slug}/{i}b.mp4", frames=9,
                                                colour=2 * i + 1), generator="g-b")
        comparison_create(project=project, prompt=prompt, video_a=a, video_b=b)
    annotator = make_member(project)
    step = 0
    while (lease := claim(project, annotator)) is not None:
        label = {"A": "left" if lease.left_is_a else "right", "B": "right" if lease.left_is_a else "left",
                 "same": "tie"}[labels[step % len(labels)]]
        judgement_submit(assignment_id=lease.pk, annotator=annotator, submission=SubmittedJudgement(
            labels=dict.fromkeys(DIMS, label), idempotency_key=f"al-{step}"))
        step += 1
    # A split seed that holds out ≥ 2 prompts for testing and leaves some for validation.
    seed = next(s for s in range(500) if [split_of(p, seed=s) for p in PROMPTS].count("test") >= 2
                and "val" in {split_of(p, seed=s) for p in PROMPTS})
    reward_run = RewardRun.objects.create(project=project, state="succeeded")
    registry_promote(project=project, run=reward_run, model_dir=str(reward_dir), score=0.6)
    return project, seed


def _wait(client, run_id: int) -> dict:
    return finished_run(client, f"/api/v1/alignment-runs/{run_id}/", 600)


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory) -> Path:
    from alignment.generator import build_tiny_generator

    return build_tiny_generator(tmp_path_factory.mktemp("align_gen") / "model", seed=0)


def test_a_run_trains_records_and_promotes_only_when_better(gpu_worker, client_for, reward_dir, generator_dir):
    project, seed = _project_with_labels(reward_dir)
    manager = client_for(make_member(project, "manager"))
    response = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/",
                            {"config": _run_config(generator_dir), "split_seed": seed}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "queued" and response.json()["method"] == "flow-dpo"
    run = _wait(manager, response.json()["id"])
    assert run["state"] == "succeeded", run["error"]
    assert run["step"] == 4 and run["progress"] == 1.0 and run["worker"]
    assert [m["step"] for m in run["metrics"]] == [1, 2, 3, 4]
    assert all(0.0 <= m["implicit_accuracy"] <= 1.0 for m in run["metrics"])
    for part, path in run["dataset"]["files"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == run["dataset"]["sha256"][part]
    assert (Path(run["result"]["lora"]) / "pytorch_lora_weights.safetensors").is_file()
    rates = run["result"]["win_rates"]["aligned"]
    assert run["result"]["score"] == pytest.approx(sum(rates.values()) / 3)
    # The rule: promoted exactly when better than the pretrained generator (> 50%), there being none promoted.
    assert run["result"]["promoted"] == (run["result"]["score"] > 0.5)
    generators = RegistryEntry.objects.filter(project=project, kind="generator")
    assert generators.count() == int(run["result"]["promoted"])

    # An adapter that cannot move (learning rate ~0) samples what the base samples: every pair ties, 50%, and a
    # tie is not an improvement, so the registry keeps what it had.
    before = list(generators.values_list("pk", "active"))
    still = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/",
                         {"config": _run_config(generator_dir, learning_rate=1e-30), "split_seed": seed},
                         format="json").json()
    still = _wait(manager, still["id"])
    assert still["state"] == "succeeded", still["error"]
    assert still["result"]["win_rates"]["aligned"] == dict.fromkeys(DIMS, 0.5)
    assert still["result"]["promoted"] is False
    assert list(generators.values_list("pk", "active")) == before


def test_generated_videos_return_as_comparisons_served_least_certain_first(gpu_worker, client_for, reward_dir,
                                                                           generator_dir, tmp_path):
    project, seed = _project_with_labels(reward_dir)
    manager = client_for(make_member(project, "manager"))
    # The promoted adapter: a LoRA trained by an earlier run (here: promoted by hand through the service).
    first = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/",
                         {"config": _run_config(generator_dir, learning_rate=5e-2), "split_seed": seed},
                         format="json").json()
    first = _wait(manager, first["id"])
    assert first["state"] == "succeeded", first["error"]
    if not first["result"]["promoted"]:
        registry_promote(project=project, run=AlignmentRun.objects.get(pk=first["id"]), model_dir=first["result"]["lora"],
                         score=first["result"]["score"], kind="generator", details={"base": str(generator_dir)})
    before = set(Comparison.objects.filter(project=project).values_list("pk", flat=True))
    second = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/",
                          {"config": _run_config(generator_dir, generate=True, learning_rate=1e-30),
                           "split_seed": seed}, format="json").json()
    second = _wait(manager, second["id"])
    assert second["state"] == "succeeded", second["error"]
    counts = second["result"]["generated"]
    new = Comparison.objects.filter(project=project).exclude(pk__in=before).select_related("video_a", "video_b",
                                                                                           "prompt")
    # 2 held-out prompts: aligned vs pretrained at seed 0, aligned s0 vs s1 and s1 vs s2.
    assert counts["aligned_vs_pretrained"] + counts["identical_skipped"] == 2
    assert counts["aligned_vs_aligned"] == 4
    assert new.count() == counts["aligned_vs_pretrained"] + counts["aligned_vs_aligned"]
    assert {c.prompt.text for c in new} <= {p for p in PROMPTS if split_of(p, seed=seed) == "test"}
    for comparison in new:
        # The promoted adapter is the first run's, and the videos say so.
        kinds = {comparison.video_a.generator, comparison.video_b.generator}
        assert kinds in ({f"aligned:alignment-{first['id']}"}, {f"aligned:alignment-{first['id']}", "pretrained"})
        assert comparison.remaining == project.overlap
    # Active selection, recomputed independently: score each pair's files with the reward model.
    scorer = RewardScorer.from_pretrained(reward_dir, device="cpu", cache_dir=tmp_path)
    media = Path(settings.MEDIA_ROOT)
    for comparison in new:
        a, b = scorer.score([media / comparison.video_a.file.name, media / comparison.video_b.file.name],
                            [comparison.prompt.text] * 2)
        certainty = sum(abs(a[d] - b[d]) for d in DIMS) / 3
        assert comparison.queue_key == pytest.approx(-1 / (1 + certainty), abs=1e-4)
    assert uncertainty_queue_key(dict.fromkeys(DIMS, 1.0), dict.fromkeys(DIMS, 1.0)) == -1.0
    # An annotator is served the generated comparisons first, the least certain first.
    annotator = make_member(project)
    served = [claim(project, annotator).comparison_id]
    assert served[0] == min(new, key=lambda c: c.queue_key).pk

    # adapter "run": this run's own adapter goes to the annotators whether or not it was promoted.
    config = _run_config(generator_dir, generate=True, learning_rate=5e-2, seed=7)
    config["generate"].update(adapter="run", vary_seeds=True)
    third = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/", {"config": config, "split_seed": seed},
                         format="json").json()
    third = _wait(manager, third["id"])
    assert third["state"] == "succeeded", third["error"]
    assert third["result"]["generated"]["adapter_run"] == third["id"]
    assert third["result"]["generated"]["adapter"] == third["result"]["lora"]
    assert Comparison.objects.filter(project=project, video_a__generator=f"aligned:alignment-{third['id']}").exists()
    # vary_seeds: this run sampled seeds 1000 × its id + 0, 1, 2, not the configured 0, 1, 2.
    folder = Path(settings.MEDIA_ROOT) / "generated" / f"alignment-{third['id']}"
    offset = 1000 * third["id"]
    assert sorted(p.name for p in folder.glob("p0000_*")) == sorted(
        [f"p0000_aligned_s{offset + s}.mp4" for s in (0, 1, 2)] + [f"p0000_pretrained_s{offset}.mp4"])


def test_a_failing_run_records_its_error_and_leaves_the_registry_alone(gpu_worker, client_for, reward_dir,
                                                                        generator_dir):
    project, seed = _project_with_labels(reward_dir, labels=("same",))  # every label a tie: no decided pair
    manager = client_for(make_member(project, "manager"))
    registry = list(RegistryEntry.objects.filter(project=project).values_list("pk", "active"))
    run = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/",
                       {"config": _run_config(generator_dir), "split_seed": seed}, format="json").json()
    run = _wait(manager, run["id"])
    assert run["state"] == "failed"
    assert "no decided preference pair in the training part" in run["error"]
    assert list(RegistryEntry.objects.filter(project=project).values_list("pk", "active")) == registry


def test_bad_configs_and_missing_reward_model_are_refused_and_nothing_is_written(client_for, generator_dir, tmp_path):
    project = make_project()
    manager = client_for(make_member(project, "manager"))
    url = f"/api/v1/projects/{project.slug}/alignment-runs/"
    cases = [
        ({"generator": str(tmp_path / "nowhere"), "train": _train_config()}, "is not a local directory"),
        ({"generator": str(generator_dir), "train": _train_config(method="ppo")}, "unknown method 'ppo'"),
        ({"generator": str(generator_dir), "train": _train_config(), "pairs": "vibes"}, "pairs: 'vibes'"),
        ({"generator": str(generator_dir), "train": _train_config(), "colour": 1}, "unknown field(s): colour"),
        ({"generator": str(generator_dir), "train": _train_config(method="flow-rwr")}, "use pairs 'reward-model'"),
        ({"generator": str(generator_dir), "train": _train_config(),
          "generate": {"seeds": [0], "prompts": 1}}, "generation needs ≥ 2 seeds"),
        ({"generator": str(generator_dir), "train": _train_config(),
          "generate": {"seeds": [0, 1], "adapter": "best"}}, "adapter: 'best'"),
        ({"train": _train_config()}, "generator: required"),
        # A valid config, but the project has no promoted reward model to judge the run.
        ({"generator": str(generator_dir), "train": _train_config()}, "Train and promote a reward model first."),
    ]
    for config, message in cases:
        response = manager.post(url, {"config": config}, format="json")
        assert response.status_code == 400, (config, response.content)
        assert message in " ".join(response.json()["errors"]["config"]), response.json()
    assert not AlignmentRun.objects.filter(project=project).exists()


def test_one_live_run_per_project_and_roles(client_for, reward_dir, generator_dir):
    project = make_project()
    registry_promote(project=project, run=RewardRun.objects.create(project=project, state="succeeded"),
                     model_dir=str(reward_dir), score=0.6)
    manager, annotator = client_for(make_member(project, "manager")), client_for(make_member(project))
    other_manager = client_for(make_member(make_project(), "manager"))
    run = AlignmentRun.objects.create(project=project, config=_run_config(generator_dir))
    url = f"/api/v1/projects/{project.slug}/alignment-runs/"
    # A queued run blocks a second one (no worker listens in this test, so the first stays queued).
    assert manager.post(url, {"config": _run_config(generator_dir)}, format="json").status_code == 409
    for client, expected in ((annotator, 404), (other_manager, 404), (client_for(None), 401)):
        assert client.get(url).status_code == expected
        assert client.post(url, {"config": _run_config(generator_dir)}, format="json").status_code == expected
        assert client.get(f"/api/v1/alignment-runs/{run.pk}/").status_code == expected
        assert client.post(f"/api/v1/alignment-runs/{run.pk}/cancel/").status_code == expected
        assert client.get(f"/api/v1/projects/{project.slug}/alignment-schedule/").status_code == expected
    assert [r["id"] for r in manager.get(url).json()] == [run.pk]
    cancelled = manager.post(f"/api/v1/alignment-runs/{run.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert manager.post(f"/api/v1/alignment-runs/{run.pk}/cancel/").status_code == 409
    assert AlignmentRun.objects.filter(project=project).count() == 1


def test_schedule_aligns_after_each_reward_promotion_and_never_twice_at_once(client_for, reward_dir, generator_dir):
    project = make_project()
    manager = client_for(make_member(project, "manager"))
    url = f"/api/v1/projects/{project.slug}/alignment-schedule/"
    bad = manager.put(url, {"alignment_config": _run_config(generator_dir), "after_reward_promotion": False,
                            "interval_minutes": 0}, format="json")
    assert bad.status_code == 400 and "interval_minutes" in bad.json()["errors"]
    ok = manager.put(url, {"alignment_config": _run_config(generator_dir)}, format="json")
    assert ok.status_code == 200 and ok.json()["after_reward_promotion"] is True
    assert alignment_schedules_tick() == []  # no reward model promoted yet
    reward_run = RewardRun.objects.create(project=project, state="succeeded")
    registry_promote(project=project, run=reward_run, model_dir=str(reward_dir), score=0.6)
    started = alignment_schedules_tick()
    assert len(started) == 1 and AlignmentRun.objects.get(pk=started[0]).project_id == project.pk
    assert alignment_schedules_tick() == []  # one is live (queued: no worker here)
    AlignmentRun.objects.filter(pk=started[0]).update(state="succeeded")
    assert alignment_schedules_tick() == []  # nothing promoted since that run
    registry_promote(project=project, run=reward_run, model_dir=str(reward_dir), score=0.7)
    assert len(alignment_schedules_tick()) == 1
    schedule = AlignmentSchedule.objects.get(project=project)
    assert schedule.alignment_config["generator"] == str(generator_dir)
    alignment_schedule_set(project=project, enabled=False, after_reward_promotion=True, interval_minutes=0,
                           alignment_config=_run_config(generator_dir))
    AlignmentRun.objects.filter(project=project).update(state="cancelled")
    registry_promote(project=project, run=reward_run, model_dir=str(reward_dir), score=0.8)
    assert alignment_schedules_tick() == []  # disabled


def test_tie_margins_come_from_the_reward_models_calibration_with_a_floor():
    from alignment.services.judge import MIN_TIE_MARGIN, tie_margins

    result = {"test": {"VQ": {"epsilon": 0.3}, "MQ": {"epsilon": None}, "TA": {"epsilon": 0.001}}}
    assert tie_margins(result) == {"VQ": 0.3, "MQ": MIN_TIE_MARGIN, "TA": MIN_TIE_MARGIN}
    assert tie_margins({"test": {"VQ": {"epsilon": float("nan")}}}) == dict.fromkeys(DIMS, MIN_TIE_MARGIN)
    assert tie_margins(None) == dict.fromkeys(DIMS, MIN_TIE_MARGIN)


def test_training_tasks_have_time_limits_and_retry_only_lost_connections():
    from django.db import OperationalError

    import alignment.tasks
    import rewards.tasks  # noqa: F401  (registers the task, as the worker's autodiscovery does)
    from config.celery import app

    assert alignment.tasks.align_generator.name in app.tasks
    for name in ("alignment.tasks.align_generator", "rewards.tasks.train_reward_model"):
        task = app.tasks[name]
        assert task.soft_time_limit == settings.TRAINING_SOFT_TIME_LIMIT
        assert task.time_limit == settings.TRAINING_SOFT_TIME_LIMIT + 60
        assert task.acks_late and task.reject_on_worker_lost
        assert OperationalError in task.autoretry_for and ValueError not in task.autoretry_for


def test_pairs_relabelled_by_the_promoted_reward_model_train_flow_rwr(gpu_worker, client_for, reward_dir,
                                                                      generator_dir, tmp_path):
    """The paper's way: samples of the pretrained generator for training prompts, scored by the promoted reward
    model; Flow-RWR weights each sample by its score."""
    import json

    project, seed = _project_with_labels(reward_dir)
    manager = client_for(make_member(project, "manager"))
    config = _run_config(generator_dir, method="flow-rwr")
    config["pairs"] = "reward-model"
    config["relabel"] = {"prompts": 3, "seeds": [0, 1], "steps": 2, "cfg": 2.0}
    run = manager.post(f"/api/v1/projects/{project.slug}/alignment-runs/", {"config": config, "split_seed": seed},
                       format="json").json()
    run = _wait(manager, run["id"])
    assert run["state"] == "succeeded", run["error"]
    assert run["step"] == 4
    samples = json.loads((Path(run["artefacts"]) / "relabel" / "samples.json").read_text())
    train_prompts = [p for p in PROMPTS if split_of(p, seed=seed) == "train"]
    assert len(samples) == 6 and {s["prompt"] for s in samples} <= set(train_prompts)
    # The recorded scores are the reward model's, recomputed here from the files.
    scorer = RewardScorer.from_pretrained(reward_dir, device="cpu", cache_dir=tmp_path)
    again = scorer.score([s["path"] for s in samples], [s["prompt"] for s in samples])
    for sample, score in zip(samples, again, strict=True):
        assert sample["scores"] == pytest.approx({d: score[d] for d in DIMS}, abs=1e-5)


def test_an_error_outside_the_pipeline_fails_a_live_run_and_leaves_finished_ones_alone(generator_dir):
    from alignment.services.runs import ALIGNMENT_RUNS

    project = make_project()
    stuck = AlignmentRun.objects.create(project=project, config=_run_config(generator_dir))
    ALIGNMENT_RUNS.fail_if_live(run_id=stuck.pk, error=ImportError("cannot import name 'x'"))
    stuck.refresh_from_db()
    assert stuck.state == "failed" and stuck.error == "ImportError: cannot import name 'x'" and stuck.finished_at
    done = AlignmentRun.objects.create(project=make_project(), config={}, state="succeeded")
    ALIGNMENT_RUNS.fail_if_live(run_id=done.pk, error=RuntimeError("late"))
    done.refresh_from_db()
    assert done.state == "succeeded" and done.error == ""
