"""Reward-model runs on a real Celery worker: export → train → evaluate → promote; failures; roles."""

import hashlib
from pathlib import Path

import pytest

from annotation.export.aggregate import split_of
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from rewards.models import RegistryEntry, RewardRun
from rewards.tiny_base import write_tiny_base
from tests.annotation.factories import claim, make_comparisons, make_member, make_project
from tests.conftest import finished_run
from tests.rewards.conftest import tiny_config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("run_base"), corpus=["a red circle moves left"])


def _judged_project(n: int = 30):
    project = make_project()
    comparisons = make_comparisons(project, n, with_files=True)
    annotator = make_member(project)
    step = 0
    while (lease := claim(project, annotator)) is not None:
        # Decided labels (no ties), so that every held-out part has pairs to count without ties.
        labels = {d: ("left", "right")[(lease.comparison_id + i) % 2] for i, d in enumerate(("VQ", "MQ", "TA"))}
        judgement_submit(assignment_id=lease.pk, annotator=annotator,
                         submission=SubmittedJudgement(labels=labels, idempotency_key=f"rr-{step}"))
        step += 1
    prompts = [c.prompt.text for c in comparisons]
    # A split seed under which no part of the 80/10/10 split is empty (deterministic: prompts are fixed).
    seed = next(s for s in range(100) if {split_of(p, seed=s) for p in prompts} == {"train", "val", "test"})
    return project, seed


def _wait(client, run_id: int) -> dict:
    return finished_run(client, f"/api/v1/reward-runs/{run_id}/", 300)


def test_a_run_goes_from_queued_to_succeeded_and_is_promoted(gpu_worker, client_for, base_dir):
    project, seed = _judged_project()
    manager = client_for(make_member(project, "manager"))
    config = tiny_config(base_dir, epochs=1).to_dict()
    response = manager.post(f"/api/v1/projects/{project.slug}/reward-runs/", {"config": config, "split_seed": seed},
                            format="json")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "queued"
    run = _wait(manager, response.json()["id"])
    assert run["state"] == "succeeded", run["error"]
    assert run["progress"] == 1.0 and run["worker"]
    steps = [m for m in run["metrics"] if m.get("event") == "step"]
    assert steps and steps[-1]["step"] == run["step"]
    # The dataset it used is recorded by checksum, and the checksum is the file's.
    for part, path in run["dataset"]["files"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == run["dataset"]["sha256"][part]
    assert 0.0 <= run["result"]["score"] <= 1.0 and run["result"]["promoted"] is True
    entry = RegistryEntry.objects.get(project=project, active=True)
    assert entry.score == run["result"]["score"] and Path(entry.model_dir).is_dir()
    registry = manager.get(f"/api/v1/projects/{project.slug}/registry/").json()
    assert [r["reward_run"] for r in registry] == [run["id"]]

    # A second run on the same data and split: the promoted model is re-scored on this run's held-out part
    # (same split, same model → its recorded score), and promotion needs a strictly better score.
    second = manager.post(f"/api/v1/projects/{project.slug}/reward-runs/", {"config": config, "split_seed": seed},
                          format="json").json()
    second = _wait(manager, second["id"])
    assert second["state"] == "succeeded", second["error"]
    assert second["result"]["promoted_score_on_same_split"] == pytest.approx(run["result"]["score"])
    assert second["result"]["promoted"] == (second["result"]["score"] > run["result"]["score"])
    active = RegistryEntry.objects.get(project=project, active=True)
    assert active.reward_run_id == (second["id"] if second["result"]["promoted"] else run["id"])


def test_a_failing_run_records_its_error_and_leaves_the_registry_alone(gpu_worker, client_for, tmp_path):
    project, seed = _judged_project()
    manager = client_for(make_member(project, "manager"))
    not_a_model = tmp_path / "empty-base"
    not_a_model.mkdir()
    response = manager.post(f"/api/v1/projects/{project.slug}/reward-runs/",
                            {"config": tiny_config(not_a_model).to_dict(), "split_seed": seed}, format="json")
    assert response.status_code == 202, response.content
    run = _wait(manager, response.json()["id"])
    assert run["state"] == "failed" and run["error"]
    assert not RegistryEntry.objects.filter(project=project).exists()


def test_bad_config_and_a_second_live_run_are_refused(client_for, base_dir):
    project = make_project()
    manager = client_for(make_member(project, "manager"))
    bad = manager.post(f"/api/v1/projects/{project.slug}/reward-runs/",
                       {"config": {"train": {"loss": "hinge"}}}, format="json")
    assert bad.status_code == 400 and "config" in bad.json()["errors"]
    missing = manager.post(f"/api/v1/projects/{project.slug}/reward-runs/",
                           {"config": tiny_config("/nonexistent/base").to_dict()}, format="json")
    assert missing.status_code == 400 and "model.base" in missing.json()["errors"]["config"][0]
    RewardRun.objects.create(project=project, state=RewardRun.State.RUNNING)
    second = manager.post(f"/api/v1/projects/{project.slug}/reward-runs/",
                          {"config": tiny_config(base_dir).to_dict()}, format="json")
    assert second.status_code == 409
    assert RewardRun.objects.filter(project=project).count() == 1


def test_cancel_a_queued_run_and_annotators_cannot_touch_runs(client_for):
    project = make_project()
    manager, annotator = client_for(make_member(project, "manager")), client_for(make_member(project))
    run = RewardRun.objects.create(project=project)
    for client, expected in ((annotator, 404), (client_for(None), 401)):
        assert client.get(f"/api/v1/projects/{project.slug}/reward-runs/").status_code == expected
        assert client.post(f"/api/v1/projects/{project.slug}/reward-runs/", {"config": {}}, format="json").status_code == expected
        assert client.get(f"/api/v1/reward-runs/{run.pk}/").status_code == expected
        assert client.post(f"/api/v1/reward-runs/{run.pk}/cancel/").status_code == expected
        assert client.get(f"/api/v1/projects/{project.slug}/registry/").status_code == expected
    cancelled = manager.post(f"/api/v1/reward-runs/{run.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert manager.post(f"/api/v1/reward-runs/{run.pk}/cancel/").status_code == 409
