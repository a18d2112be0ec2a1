"""Submitting judgements through the API: un-swapping, idempotency, expired leases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Comparison, Judgement
from tests.annotation.factories import make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db

LABELS = {"VQ": "left", "MQ": "right", "TA": "tie"}


def _next(client, project):
    response = client.post(f"/api/v1/projects/{project.slug}/next/")
    assert response.status_code == 200, response.content
    return response.json()


def _submit(client, assignment_id, **overrides):
    body = {"labels": LABELS, "idempotency_key": f"key-{assignment_id}", "lead_time_ms": 4200} | overrides
    return client.post(f"/api/v1/assignments/{assignment_id}/submit/", body, format="json")


@pytest.mark.parametrize("left_is_a", [True, False])
def test_left_right_are_unswapped_into_a_b(client_for, left_is_a):
    project = make_project()
    (comparison,) = make_comparisons(project, 1, with_files=True)
    annotator = make_member(project)
    client = client_for(annotator)
    shown = _next(client, project)
    Assignment.objects.filter(pk=shown["id"]).update(left_is_a=left_is_a)
    checklist = {"left": {"VQ": ["clarity"]}, "right": {"MQ": ["dynamic_stability", "dynamic_degree"]}}
    response = _submit(client, shown["id"], checklist=checklist)
    assert response.status_code == 201, response.content
    judgement = Judgement.objects.get()
    left, right = ("A", "B") if left_is_a else ("B", "A")
    # VQ: left better; MQ: right better; TA: tie.
    assert (judgement.vq, judgement.mq, judgement.ta) == (left, right, "same")
    assert judgement.checklist == {left: {"VQ": ["clarity"]}, right: {"MQ": ["dynamic_degree", "dynamic_stability"]}}
    assert judgement.lead_time_ms == 4200
    comparison.refresh_from_db()
    assert (comparison.judgement_count, comparison.remaining) == (1, 0)


def test_payload_never_names_generators_or_gold(client_for):
    project = make_project()
    make_comparisons(project, 1, with_files=True)
    shown = _next(client_for(make_member(project)), project)
    text = str(shown)
    assert "gen-a" not in text and "gen-b" not in text and "gold" not in text
    assert set(shown) == {"id", "project", "prompt", "left", "right", "dimensions", "checklist", "asks_mos", "expires_at"}
    assert [item["key"] for item in shown["checklist"]["MQ"]][:2] == ["dynamic_stability", "dynamic_reasonableness"]
    assert shown["dimensions"] == ["VQ", "MQ", "TA"]
    assert shown["left"]["url"].startswith("/api/v1/videos/") and shown["left"]["fps"] == 8


def test_mos_is_unswapped_too(client_for):
    project = make_project(asks_mos=True, asks_overall=True)
    make_comparisons(project, 1)
    client = client_for(make_member(project))
    shown = _next(client, project)
    Assignment.objects.filter(pk=shown["id"]).update(left_is_a=False)
    mos = {"left": {"VQ": 5, "MQ": 4, "TA": 3}, "right": {"VQ": 1, "MQ": 2, "TA": 2}}
    response = _submit(client, shown["id"], mos=mos, labels=LABELS | {"Overall": "left"})
    assert response.status_code == 201, response.content
    j = Judgement.objects.get()
    assert (j.mos_b_vq, j.mos_b_mq, j.mos_b_ta, j.mos_a_vq, j.mos_a_mq, j.mos_a_ta) == (5, 4, 3, 1, 2, 2)
    assert j.overall == "B"


def test_retry_with_the_same_idempotency_key_stores_nothing_twice(client_for):
    project = make_project()
    make_comparisons(project, 2)
    client = client_for(make_member(project))
    shown = _next(client, project)
    first = _submit(client, shown["id"])
    retry = _submit(client, shown["id"])
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert Judgement.objects.count() == 1
    assert Comparison.objects.filter(judgement_count=1).count() == 1


def test_a_second_submit_with_a_new_key_conflicts(client_for):
    project = make_project()
    make_comparisons(project, 1)
    client = client_for(make_member(project))
    shown = _next(client, project)
    assert _submit(client, shown["id"]).status_code == 201
    response = _submit(client, shown["id"], idempotency_key="another")
    assert response.status_code == 409
    assert Judgement.objects.count() == 1


def test_expired_lease_whose_slot_went_to_someone_else_gets_409(client_for):
    project = make_project()
    make_comparisons(project, 1)
    slow, fast = make_member(project), make_member(project)
    shown = _next(client_for(slow), project)
    Assignment.objects.filter(pk=shown["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    _next(client_for(fast), project)
    response = _submit(client_for(slow), shown["id"])
    assert response.status_code == 409
    assert "another annotator" in response.json()["detail"]
    assert Judgement.objects.count() == 0


def test_expired_lease_whose_slot_is_still_free_is_accepted(client_for):
    project = make_project()
    (comparison,) = make_comparisons(project, 1)
    slow = make_member(project)
    shown = _next(client_for(slow), project)
    Assignment.objects.filter(pk=shown["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    from annotation.services.leases import leases_reclaim_expired

    leases_reclaim_expired()
    comparison.refresh_from_db()
    assert comparison.remaining == 1
    response = _submit(client_for(slow), shown["id"])
    assert response.status_code == 201
    comparison.refresh_from_db()
    assert (comparison.remaining, comparison.judgement_count) == (0, 1)


def test_skip_then_submit_conflicts(client_for):
    project = make_project()
    make_comparisons(project, 1)
    client = client_for(make_member(project))
    shown = _next(client, project)
    assert client.post(f"/api/v1/assignments/{shown['id']}/skip/").status_code == 200
    assert _submit(client, shown["id"]).status_code == 409
    assert Judgement.objects.count() == 0


def test_next_returns_204_when_nothing_is_left(client_for):
    project = make_project()
    make_comparisons(project, 1)
    client = client_for(make_member(project))
    shown = _next(client, project)
    assert _submit(client, shown["id"]).status_code == 201
    assert client.post(f"/api/v1/projects/{project.slug}/next/").status_code == 204


def test_submit_and_next_returns_the_following_assignment(client_for):
    project = make_project()
    make_comparisons(project, 2)
    client = client_for(make_member(project))
    shown = _next(client, project)
    response = client.post(f"/api/v1/assignments/{shown['id']}/submit/?next=1",
                           {"labels": LABELS, "idempotency_key": "sn-1"}, format="json")
    assert response.status_code == 201
    following = response.json()["next"]
    assert following["id"] != shown["id"] and following["prompt"]["text"] != shown["prompt"]["text"]
    # A retry of the same submit replays the judgement and returns the same (now live) next lease.
    again = client.post(f"/api/v1/assignments/{shown['id']}/submit/?next=1",
                        {"labels": LABELS, "idempotency_key": "sn-1"}, format="json")
    assert again.status_code == 200 and again.json()["next"]["id"] == following["id"]
    last = client.post(f"/api/v1/assignments/{following['id']}/submit/?next=1",
                       {"labels": LABELS, "idempotency_key": "sn-2"}, format="json")
    assert last.status_code == 201 and last.json()["next"] is None
    assert Judgement.objects.count() == 2
