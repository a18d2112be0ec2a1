"""Leases: claim, re-serve, overlap K, expiry, skip, heartbeat, gold injection."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import Conflict
from annotation.models import Assignment, Comparison
from annotation.services.leases import (
    assignment_heartbeat,
    assignment_skip,
    leases_reclaim_expired,
)
from tests.annotation.factories import claim, make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db


def _expire(assignment: Assignment) -> None:
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_live_lease_is_returned_again_instead_of_a_new_one():
    project = make_project()
    make_comparisons(project, 3)
    annotator = make_member(project)
    first = claim(project, annotator)
    again = claim(project, annotator)
    assert again.pk == first.pk
    assert Assignment.objects.filter(annotator=annotator).count() == 1
    # One slot used out of K=1, on one comparison only.
    assert sorted(Comparison.objects.values_list("remaining", flat=True)) == [0, 1, 1]


def test_overlap_k_distinct_annotators_then_nothing_left():
    project = make_project(overlap=2)
    (comparison,) = make_comparisons(project, 1)
    a, b, c = (make_member(project) for _ in range(3))
    lease_a = claim(project, a)
    lease_b = claim(project, b)
    assert lease_a.comparison_id == lease_b.comparison_id == comparison.pk
    assert claim(project, c) is None
    comparison.refresh_from_db()
    assert comparison.remaining == 0


def test_expired_lease_frees_its_slot_for_another_annotator():
    project = make_project()
    make_comparisons(project, 1)
    first, second = make_member(project), make_member(project)
    lease = claim(project, first)
    assert claim(project, second) is None
    _expire(lease)
    taken = claim(project, second)
    assert taken is not None and taken.comparison_id == lease.comparison_id
    lease.refresh_from_db()
    assert lease.state == Assignment.State.EXPIRED


def test_reclaim_counts_each_expired_lease_once():
    project = make_project(overlap=3)
    (comparison,) = make_comparisons(project, 1)
    leases = [claim(project, make_member(project)) for _ in range(3)]
    for lease in leases[:2]:
        _expire(lease)
    assert leases_reclaim_expired() == 1  # one comparison touched
    assert leases_reclaim_expired() == 0
    comparison.refresh_from_db()
    assert comparison.remaining == 2


def test_skip_frees_the_slot_for_others_and_never_serves_it_again():
    project = make_project()
    (comparison,) = make_comparisons(project, 1)
    skipper, other = make_member(project), make_member(project)
    lease = claim(project, skipper)
    assignment_skip(assignment_id=lease.pk, annotator=skipper)
    assert claim(project, skipper) is None
    taken = claim(project, other)
    assert taken.comparison_id == comparison.pk


def test_skip_twice_is_harmless_and_frees_one_slot():
    project = make_project(overlap=2)
    (comparison,) = make_comparisons(project, 1)
    annotator = make_member(project)
    lease = claim(project, annotator)
    assignment_skip(assignment_id=lease.pk, annotator=annotator)
    assignment_skip(assignment_id=lease.pk, annotator=annotator)
    comparison.refresh_from_db()
    assert comparison.remaining == 2


def test_heartbeat_extends_the_lease():
    project = make_project(lease_ttl_seconds=60)
    make_comparisons(project, 1)
    annotator = make_member(project)
    lease = claim(project, annotator)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    extended = assignment_heartbeat(assignment_id=lease.pk, annotator=annotator)
    assert extended.expires_at > timezone.now() + timedelta(seconds=55)


def test_heartbeat_on_a_lease_whose_slot_went_elsewhere_conflicts():
    project = make_project()
    make_comparisons(project, 1)
    slow, fast = make_member(project), make_member(project)
    lease = claim(project, slow)
    _expire(lease)
    assert claim(project, fast) is not None
    with pytest.raises(Conflict):
        assignment_heartbeat(assignment_id=lease.pk, annotator=slow)


def test_the_same_annotator_gets_their_expired_comparison_back_when_nobody_took_it():
    project = make_project()
    (comparison,) = make_comparisons(project, 1)
    annotator = make_member(project)
    lease = claim(project, annotator)
    _expire(lease)
    again = claim(project, annotator)
    assert again.pk == lease.pk and again.state == Assignment.State.ACTIVE
    comparison.refresh_from_db()
    assert comparison.remaining == 0


def test_gold_is_injected_once_per_annotator_and_holds_no_slot():
    gold_labels = {"VQ": "A", "MQ": "B", "TA": "same"}
    project = make_project(gold_rate=1.0)
    (gold,) = make_comparisons(project, 1, is_gold=True, gold_labels=gold_labels)
    (regular,) = make_comparisons(project, 1)
    first, second = make_member(project), make_member(project)
    lease = claim(project, first)
    assert lease.comparison_id == gold.pk
    # Gold is shown to everyone, so a second annotator gets it too while the first holds it.
    assert claim(project, second).comparison_id == gold.pk
    assignment_skip(assignment_id=lease.pk, annotator=first)
    # Gold already seen: the next falls through to the regular queue.
    assert claim(project, first).comparison_id == regular.pk


def test_generator_order_does_not_decide_the_shown_side():
    project = make_project()
    make_comparisons(project, 60)
    annotator = make_member(project)
    left_is_a = []
    for _ in range(60):
        lease = claim(project, annotator)
        left_is_a.append(lease.left_is_a)
        assignment_skip(assignment_id=lease.pk, annotator=annotator)
    # 60 fair coin flips: all on one side has probability 2 * 2**-60.
    assert 0 < sum(left_is_a) < 60
