"""Metrics on data where a figure is not measurable return NaN instead of failing the run."""

import math

from rewards.metrics import bootstrap_ci


def test_bootstrap_interval_of_accuracy_without_ties_when_every_pair_is_a_tie():
    # Human labels all 0 (ties): accuracy without ties has no pairs to count in any resample.
    low, high = bootstrap_ci([0.3, -0.2, 0.1], [0, 0, 0], n_boot=20)
    assert math.isnan(low) and math.isnan(high)
    # With one decided pair that the margin gets right, every resample that contains it scores 1.
    low, high = bootstrap_ci([0.3, -0.2, 0.1], [1, 0, 0], n_boot=200)
    assert (low, high) == (1.0, 1.0)


def test_promotion_score_ignores_unmeasurable_dimensions():
    from rewards.services.pipeline import promotion_score

    nan = float("nan")
    report = {"VQ": {"without_ties": 0.8}, "MQ": {"without_ties": nan}, "TA": {"without_ties": 0.6}}
    assert promotion_score(report) == 0.7
    assert math.isnan(promotion_score({d: {"without_ties": nan} for d in ("VQ", "MQ", "TA")}))
