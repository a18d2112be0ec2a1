"""Accuracy with/without ties against hand-counted small cases and an independent brute force."""
import math

import numpy as np
import pytest

from rewards.metrics import (
    accuracy_report,
    accuracy_with_ties,
    accuracy_without_ties,
    bootstrap_ci,
    tie_separation_auc,
)


def brute_force_with_ties(m: np.ndarray, h: np.ndarray) -> float:
    """Try every threshold directly: (C + Thm) / N with model tie ⇔ |m| ≤ ε."""
    best = 0.0
    for eps in [-1.0, *np.abs(m)]:
        tie = np.abs(m) <= eps
        correct = ((h == 0) & tie) | ((h != 0) & ~tie & (np.sign(m) == h))
        best = max(best, correct.mean())
    return best


def test_mixed_case_hand_counted():
    # ε=−1: only pair 0 is C → 1/5.  ε=0.1: pair 4 (human tie) becomes Thm → 2/5.  ε=0.3: pair 3 (was D) → 2/5.
    # ε=0.5: pair 2 (human tie) → 3/5.  ε=1: pair 0 leaves C → 2/5.  ε=2: → 2/5.  Best 3/5 at ε = 0.5.
    m = [1.0, -2.0, 0.5, 0.3, -0.1]
    h = [1, 1, 0, -1, 0]
    result = accuracy_with_ties(m, h)
    assert result.accuracy == pytest.approx(3 / 5)
    assert result.epsilon == 0.5
    assert result.n == 5
    # Decided pairs 0, 1, 3: only pair 0 is right.
    assert accuracy_without_ties(m, h) == pytest.approx(1 / 3)


def test_exact_zero_margins():
    # ε=−1: a zero margin names no winner → only pair 2 correct, 1/3.  ε=0: pairs 0 and 1 become model ties;
    # pair 0 is a human tie → 2/3.  ε=2: pair 2 leaves C → 1/3.  Without ties: pair 1 (m=0) wrong, pair 2 right.
    m = [0.0, 0.0, 2.0]
    h = [0, 1, 1]
    result = accuracy_with_ties(m, h)
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.epsilon == 0.0
    assert accuracy_without_ties(m, h) == pytest.approx(1 / 2)


def test_all_human_ties():
    # Every pair is a human tie: ε = the largest |m| (0.4) ties them all → 3/3; without ties is undefined.
    result = accuracy_with_ties([0.2, -0.4, 0.1], [0, 0, 0])
    assert result.accuracy == 1.0
    assert result.epsilon == pytest.approx(0.4)
    assert math.isnan(accuracy_without_ties([0.2, -0.4, 0.1], [0, 0, 0]))


def test_no_model_ties_is_a_candidate():
    # Both pairs right with no model ties (2/2); any ε ≥ 0.1 loses pair 0.  VideoAlign never tries ε < 0 and
    # would report 1/2.
    result = accuracy_with_ties([0.1, 1.0], [1, 1])
    assert result.accuracy == 1.0
    assert result.epsilon is None


def test_repeated_margins_move_together():
    # Three pairs share |m| = 0.5.  ε=−1: pairs 2, 3 are C → 2/4.  ε=0.5: +1 +1 (human ties) −1 (pair 2 was C)
    # → 3/4.  ε=2: → 2/4.  Moving the two human ties before pair 2 one at a time would report 4/4, which no
    # threshold achieves.
    m = [0.5, -0.5, 0.5, 2.0]
    h = [0, 0, 1, 1]
    for order in ([0, 1, 2, 3], [2, 3, 0, 1], [3, 1, 0, 2]):
        result = accuracy_with_ties(np.array(m)[order], np.array(h)[order])
        assert result.accuracy == pytest.approx(3 / 4)
        assert result.epsilon == 0.5


def test_matches_brute_force_on_random_data_with_repeats():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        m = rng.integers(-4, 5, n) / 2.0  # few distinct values: many repeats and exact zeros
        h = rng.integers(-1, 2, n).astype(float)
        assert accuracy_with_ties(m, h).accuracy == pytest.approx(brute_force_with_ties(m, h))


def test_missing_labels_are_dropped():
    # NaN labels leave: the remaining pairs are (1.0, +1) right and (−1.0, +1) wrong.
    result = accuracy_with_ties([1.0, 5.0, -1.0], [1, float("nan"), 1])
    assert result.n == 2
    assert result.accuracy == pytest.approx(1 / 2)


def test_bad_labels_and_lengths_are_errors():
    with pytest.raises(ValueError, match="differ in length"):
        accuracy_with_ties([1.0, 2.0], [1])
    with pytest.raises(ValueError, match="labels must be"):
        accuracy_with_ties([1.0], [2])


def test_report_overall_uses_summed_margin():
    # Pair 0: VQ+MQ+TA = 1 − 0.5 + 0.25 = 0.75 > 0 and Overall says A → right.
    # Pair 1: −1 + 0.5 + 0.2 = −0.3 < 0 but Overall says A → wrong.  Without ties: 1/2.
    margins = {"VQ": [1.0, -1.0], "MQ": [-0.5, 0.5], "TA": [0.25, 0.2]}
    labels = {"VQ": [1, -1], "MQ": [-1, 1], "TA": [1, 1], "Overall": [1, 1]}
    report = accuracy_report(margins, labels)
    assert report["VQ"].without_ties == 1.0
    assert report["Overall"].without_ties == pytest.approx(1 / 2)
    assert set(report) == {"VQ", "MQ", "TA", "Overall"}


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(0)
    h = rng.choice([-1.0, 1.0], 400)
    m = h * rng.normal(1.0, 1.0, 400)  # right ~84% of the time
    low, high = bootstrap_ci(m, h, n_boot=300)
    point = accuracy_without_ties(m, h)
    assert low < point < high
    assert high - low < 0.1


def test_tie_separation_auc_hand_counted():
    # Decided |m| = {3, 1}, tie |m| = {2, 0}: (3>2) (3>0) (1<2) (1>0) → 3 of 4 comparisons → 0.75.
    assert tie_separation_auc([3.0, -1.0, 2.0, 0.0], [1, -1, 0, 0]) == pytest.approx(0.75)
    # Equal magnitudes count half: decided {1}, tie {1} → 0.5.
    assert tie_separation_auc([1.0, -1.0], [1, 0]) == pytest.approx(0.5)
    assert math.isnan(tie_separation_auc([1.0], [1]))
