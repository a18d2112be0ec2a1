"""Label quality: Krippendorff's alpha, pairwise agreement, the binomial test, left-bias detection."""

import math
import random

import numpy as np
import pytest

from annotation import quality
from annotation.selectors_quality import project_quality
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from synthetic.annotators import annotator_profile, draw_label
from tests.annotation.factories import claim, make_comparisons, make_member, make_project


def _counts(table: list[list]) -> np.ndarray:
    """Units as columns of a coders × units table with None for missing values."""
    units, values = [], []
    categories = sorted({v for row in table for v in row if v is not None})
    for row in table:
        for unit, value in enumerate(row):
            if value is not None:
                units.append(unit)
                values.append(categories.index(value))
    return quality.unit_counts(np.array(units), np.array(values), len(categories))


def test_alpha_textbook_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: alpha = 0.743.
    _ = None
    table = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
        [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
    ]
    assert round(quality.krippendorff_alpha_nominal(_counts(table)), 3) == 0.743


def test_alpha_and_agreement_small_cases():
    # Unit 1 (A, A), unit 2 (A, B). Coincidences: o_AA = 2, o_AB = o_BA = 1; n_A = 3, n_B = 1, n = 4.
    # alpha = 1 − (n − 1)·(o_AB + o_BA) / (n² − n_A² − n_B²) = 1 − 3·2 / (16 − 9 − 1) = 0.
    counts = _counts([["A", "A"], ["A", "B"]])
    assert quality.krippendorff_alpha_nominal(counts) == pytest.approx(0.0)
    # Ordered agreeing pairs: 2 in unit 1, 0 in unit 2, out of 2 + 2.
    assert quality.pairwise_agreement(counts) == pytest.approx(0.5)
    perfect = _counts([["A", "same", "B"], ["A", "same", "B"]])
    assert quality.krippendorff_alpha_nominal(perfect) == 1.0
    assert quality.pairwise_agreement(perfect) == 1.0
    # A unit with one value carries no pair: nothing to compute.
    assert math.isnan(quality.krippendorff_alpha_nominal(_counts([["A"]])))


def test_binomial_two_sided():
    # P(X ≥ 8) for X ~ Bin(10, 1/2) is (45 + 10 + 1) / 1024; two-sided doubles it.
    assert quality.binomial_two_sided_p(8, 10) == pytest.approx(112 / 1024)
    assert quality.binomial_two_sided_p(2, 10) == pytest.approx(112 / 1024)
    assert quality.binomial_two_sided_p(5, 10) == pytest.approx(1.0)
    assert quality.binomial_two_sided_p(0, 0) == 1.0


def test_majority_of_others():
    units = np.array([1, 1, 1, 2, 2, 3])
    values = np.array([0, 0, 1, 2, 2, 1])
    # Unit 1: the first A sees (A, B): split → −1; the B sees (A, A) → A. Unit 2: one other is no majority.
    # Unit 3: nobody else.
    assert quality.majority_of_others(units, values, 3).tolist() == [-1, -1, 0, -1, -1, -1]
    assert quality.majority_of_others(units, values, 3, min_others=1).tolist() == [-1, -1, 0, 2, 2, -1]


@pytest.mark.django_db
def test_left_bias_detector_flags_the_biased_annotator_only():
    random.seed(5)  # the side each lease shows left
    project = make_project(overlap=2)
    make_comparisons(project, 300)
    rng = np.random.default_rng(3)
    utility = {}  # the simulated truth per comparison video: (A, B) per dimension
    careful, biased = make_member(project, username="careful"), make_member(project, username="biased")
    for user, kind in ((careful, "careful"), (biased, "left_biased")):
        profile = annotator_profile(kind)
        step = 0
        while (lease := claim(project, user)) is not None:
            truth = utility.setdefault(lease.comparison_id, rng.normal(0, 1, size=(2, 3)))
            left, right = (truth[0], truth[1]) if lease.left_is_a else (truth[1], truth[0])
            labels = {d: draw_label(profile, left[i], right[i], rng) for i, d in enumerate(("VQ", "MQ", "TA"))}
            judgement_submit(assignment_id=lease.pk, annotator=user,
                             submission=SubmittedJudgement(labels=labels, idempotency_key=f"{kind}-{step}",
                                                           lead_time_ms=20000))
            step += 1
    report = {row["username"]: row for row in project_quality(project=project)["annotators"]}
    assert report["careful"]["judgements"] == report["biased"]["judgements"] == 300
    assert report["biased"]["left_share"] > 0.55 and report["biased"]["left_p"] < 1e-5
    assert "prefers the left side" in report["biased"]["spam_reasons"]
    assert 0.4 < report["careful"]["left_share"] < 0.6 and report["careful"]["left_p"] > 0.01
    assert "prefers the left side" not in report["careful"]["spam_reasons"]
    # With two annotators there is no majority of others to agree with.
    assert report["careful"]["agreement"] is None


@pytest.mark.django_db
def test_gold_accuracy_counts_matching_dimensions():
    project = make_project(gold_rate=1.0)
    make_comparisons(project, 2, is_gold=True, gold_labels={"VQ": "A", "MQ": "B", "TA": "same"})
    user = make_member(project, username="golden")
    for step in range(2):
        lease = claim(project, user)
        left = "left" if lease.left_is_a else "right"
        right = "right" if lease.left_is_a else "left"
        # First gold: VQ right (A), MQ wrong, TA right → 2/3. Second: all three right → 3/3.
        labels = {"VQ": left, "MQ": left if step == 0 else right, "TA": "tie"}
        judgement_submit(assignment_id=lease.pk, annotator=user,
                         submission=SubmittedJudgement(labels=labels, idempotency_key=f"g{step}"))
    row = project_quality(project=project)["annotators"][0]
    assert row["gold"] == 2 and row["gold_accuracy"] == pytest.approx(5 / 6, abs=1e-4)


def test_json_safe_turns_unmeasurable_numbers_into_null():
    from annotation.rawsql import json_safe

    record = {"acc": float("nan"), "ci": [0.5, float("inf")], "nested": {"x": (1.0, float("-inf"))}, "n": 3}
    assert json_safe(record) == {"acc": None, "ci": [0.5, None], "nested": {"x": [1.0, None]}, "n": 3}
