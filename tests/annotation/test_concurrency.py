"""Annotators racing in real threads, each with its own PostgreSQL connection."""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotation.models import Assignment, Comparison, Judgement
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from tests.annotation.factories import claim, make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def _run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def wrapped(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as error:  # noqa: BLE001  (reported to the test below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_racing_annotators_never_share_a_slot_and_fill_exactly_k():
    k, comparisons, annotators = 2, 25, 6
    project = make_project(overlap=k)
    make_comparisons(project, comparisons)
    users = [make_member(project) for _ in range(annotators)]
    claimed: list[tuple[int, int]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        user = users[index]
        for step in range(comparisons + 1):
            lease = claim(project, user)
            if lease is None:
                return
            with lock:
                claimed.append((lease.comparison_id, user.pk))
            submission = SubmittedJudgement(
                labels={"VQ": "left", "MQ": "right", "TA": "tie"}, idempotency_key=f"{user.pk}-{step}"
            )
            judgement_submit(assignment_id=lease.pk, annotator=user, submission=submission)

    assert _run_threads(work, annotators) == []
    # No (comparison, annotator) pair was handed out twice, and every comparison got exactly K judgements.
    assert len(claimed) == len(set(claimed)) == k * comparisons
    per_comparison = Counter(c for c, _ in claimed)
    assert set(per_comparison.values()) == {k}
    assert Judgement.objects.count() == k * comparisons
    assert set(Comparison.objects.values_list("remaining", "judgement_count")) == {(0, k)}


def test_one_slot_many_claimants_exactly_one_wins():
    project = make_project(overlap=1)
    make_comparisons(project, 1)
    users = [make_member(project) for _ in range(8)]
    winners: list[int] = []

    def work(index: int) -> None:
        if claim(project, users[index]) is not None:
            winners.append(index)

    assert _run_threads(work, len(users)) == []
    assert len(winners) == 1
    assert Assignment.objects.filter(state=Assignment.State.ACTIVE).count() == 1
    assert Comparison.objects.get().remaining == 0


def test_the_same_annotator_asking_twice_at_once_gets_one_lease():
    project = make_project(overlap=1)
    make_comparisons(project, 10)
    user = make_member(project)
    leases: list[int] = []

    def work(_index: int) -> None:
        leases.append(claim(project, user).pk)

    assert _run_threads(work, 4) == []
    assert len(set(leases)) == 1
    assert Assignment.objects.count() == 1
    assert sorted(Comparison.objects.values_list("remaining", flat=True)) == [0] + [1] * 9


def test_a_comparison_locked_by_someone_elses_submit_is_not_reported_as_an_empty_queue():
    """The claim skips locked rows (SKIP LOCKED), so while another annotator's submit holds the only open
    comparison, a naive claim sees nothing and the client stops as if all work were done."""
    project = make_project(overlap=2)
    (comparison,) = make_comparisons(project, 1)
    waiter = make_member(project)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                Comparison.objects.select_for_update().get(pk=comparison.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_the_row)
    thread.start()
    assert locked.wait(timeout=10)
    threading.Timer(0.3, release.set).start()
    lease = claim(project, waiter)
    thread.join(timeout=10)
    assert lease is not None and lease.comparison_id == comparison.pk
