"""Scheduled training: a run starts at N new judgements and not before, and never twice at once."""


import pytest

from annotation.services.judgements import SubmittedJudgement, judgement_submit
from rewards.models import RewardRun, TrainingSchedule
from rewards.services.schedules import schedules_tick
from tests.annotation.factories import claim, make_comparisons, make_member, make_project
from tests.rewards.conftest import tiny_config

pytestmark = pytest.mark.django_db


def _judge(project, annotator, count: int, prefix: str) -> None:
    for step in range(count):
        lease = claim(project, annotator)
        judgement_submit(assignment_id=lease.pk, annotator=annotator, submission=SubmittedJudgement(
            labels={"VQ": "left", "MQ": "right", "TA": "tie"}, idempotency_key=f"{prefix}-{step}"))


@pytest.fixture
def scheduled(tmp_path, django_capture_on_commit_callbacks):
    base = tmp_path / "base"
    base.mkdir()  # the schedule only checks that the base directory exists; nothing trains in these tests
    project = make_project()
    make_comparisons(project, 12)
    TrainingSchedule.objects.create(project=project, min_new_judgements=5, min_interval_minutes=0,
                                    reward_config=tiny_config(base).to_dict())
    return project, make_member(project)


def test_starts_at_n_new_judgements_and_not_before(scheduled, django_capture_on_commit_callbacks):
    project, annotator = scheduled
    _judge(project, annotator, 4, "a")
    assert schedules_tick() == []
    _judge(project, annotator, 1, "b")
    with django_capture_on_commit_callbacks() as queued:
        started = schedules_tick()
    assert len(started) == 1 and len(queued) == 2  # the run's event and its task, both after commit
    run = RewardRun.objects.get()
    assert run.state == RewardRun.State.QUEUED and run.project_id == project.pk


def test_never_two_at_once_and_counting_restarts_after_a_run(scheduled):
    project, annotator = scheduled
    _judge(project, annotator, 5, "a")
    assert len(schedules_tick()) == 1
    assert schedules_tick() == []  # the first is still queued
    RewardRun.objects.update(state=RewardRun.State.SUCCEEDED)
    assert schedules_tick() == []  # no new judgements since that run
    _judge(project, annotator, 5, "b")
    assert len(schedules_tick()) == 1
    assert RewardRun.objects.count() == 2


def test_at_most_once_per_period(scheduled):
    project, annotator = scheduled
    TrainingSchedule.objects.update(min_interval_minutes=60)
    _judge(project, annotator, 5, "a")
    assert len(schedules_tick()) == 1
    RewardRun.objects.update(state=RewardRun.State.SUCCEEDED)
    _judge(project, annotator, 5, "b")
    assert schedules_tick() == []  # due by count, but the last run started less than an hour ago


def test_managers_edit_the_schedule_and_annotators_cannot(client_for, tmp_path):
    project = make_project()
    manager, annotator = client_for(make_member(project, "manager")), client_for(make_member(project))
    url = f"/api/v1/projects/{project.slug}/training-schedule/"
    body = {"min_new_judgements": 50, "min_interval_minutes": 5, "reward_config": tiny_config(tmp_path).to_dict()}
    assert annotator.put(url, body, format="json").status_code == 404
    assert manager.get(url).status_code == 404  # none yet
    saved = manager.put(url, body, format="json")
    assert saved.status_code == 200 and saved.json()["min_new_judgements"] == 50
    assert TrainingSchedule.objects.get(project=project).min_interval_minutes == 5
    bad = manager.put(url, body | {"reward_config": {"train": {"loss": "hinge"}}, "min_new_judgements": 0}, format="json")
    assert bad.status_code == 400 and {"min_new_judgements"} <= set(bad.json()["errors"])
    assert TrainingSchedule.objects.get(project=project).min_new_judgements == 50
