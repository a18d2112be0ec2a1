import numpy as np
import pytest

from synthetic.defects import Defects
from synthetic.oracle import (
    accuracy_with_ties,
    accuracy_without_ties,
    label_signs,
    oracle_accuracy,
    oracle_preference,
    oracle_utilities,
)

STILL = "A red square stays still on a plain background in daylight."
MOVING = "A red square moves left on a noisy background in daylight, the camera pans left."


def test_utilities_are_weighted_sums_of_relevant_defects():
    d = Defects(blur=0.5, noise=0.2, jitter=0.4, frozen=1.0, wrong_color=0.5, ignored_camera=1.0)
    moving = oracle_utilities(d, MOVING)
    # VQ = −(1.0·0.5 + 1.0·0.2); MQ = −(1.0·0.4 + 1.2·1.0); TA = −(1.2·0.5 + 0.6·1.0)
    assert moving["VQ"] == pytest.approx(-0.7)
    assert moving["MQ"] == pytest.approx(-1.6)
    assert moving["TA"] == pytest.approx(-1.2)
    assert moving["Overall"] == pytest.approx(-3.5)
    still = oracle_utilities(d, STILL)
    # A still prompt cannot be frozen, and has no camera to ignore.
    assert still["MQ"] == pytest.approx(-0.4)
    assert still["TA"] == pytest.approx(-0.6)


def test_clean_video_is_perfect():
    assert oracle_utilities(Defects(), MOVING) == {"VQ": 0.0, "MQ": 0.0, "TA": 0.0, "Overall": 0.0}


def test_oracle_preference():
    assert oracle_preference(-0.1, -0.5) == "A"
    assert oracle_preference(-0.5, -0.1) == "B"
    assert oracle_preference(-0.30, -0.35, tie_margin=0.1) == "same"


def test_accuracy_with_ties_by_hand():
    signs = label_signs(["A", "A", "same", "A", "same"])
    margins = np.array([0.9, 0.5, 0.1, -0.2, 0.3])
    # No model ties: right on pairs 1, 2 → 2/5. ε = 0.1: + pair 3 (tie/tie) → 3/5.
    # ε = 0.2: pair 4 becomes a model tie (was wrong anyway) → 3/5. ε = 0.3: + pair 5 → 4/5.
    # ε = 0.5: pair 2 lost → 3/5. Best 4/5 at ε = 0.3.
    result = accuracy_with_ties(signs, margins)
    assert result.accuracy == pytest.approx(0.8)
    assert result.epsilon == pytest.approx(0.3)


def test_equal_margins_switch_together_whatever_the_order():
    # Two pairs with |m| = 0.2: a human tie and a right call. Moving both gains 1 and loses 1, so the best is
    # "no ties" (2/3): a one-at-a-time sweep would wrongly report 3/3 in one of the two orders.
    signs = np.array([0, 1, 1])
    for order in ([0, 1, 2], [1, 0, 2]):
        result = accuracy_with_ties(signs[order], np.array([0.2, 0.2, 0.9])[order])
        assert result.accuracy == pytest.approx(2 / 3)
        assert result.epsilon == -1.0


def test_accuracy_without_ties_by_hand():
    signs = np.array([1, -1, 0, 1, -1])
    margins = np.array([0.3, 0.4, 0.0, -0.1, 0.0])
    # Decided pairs: right, wrong, wrong, zero margin (½) → 1.5 / 4.
    assert accuracy_without_ties(signs, margins) == pytest.approx(0.375)


def test_oracle_ceiling_equals_brute_force_accuracy_of_true_utilities():
    rng = np.random.default_rng(0)
    ua, ub = rng.normal(size=300), rng.normal(size=300)
    labels = rng.choice(["A", "B", "same"], size=300)
    result = oracle_accuracy(list(labels), ua, ub)
    # Independent route: try every threshold, one pair at a time.
    h = np.array([{"A": 1, "B": -1, "same": 0}[x] for x in labels])
    m = ua - ub
    best = 0.0
    for eps in [-1.0, *np.abs(m)]:
        model = np.where(np.abs(m) <= eps, 0, np.sign(m))
        best = max(best, float(np.mean(model == h)))
    assert result["with_ties"] == pytest.approx(best)
    assert result["without_ties"] == pytest.approx(np.mean(np.sign(m[h != 0]) == h[h != 0]))


def test_unknown_label_is_an_error():
    with pytest.raises(ValueError, match="tie"):
        label_signs(["A", "tie"])


def test_a_fading_subject_hides_its_own_defects():
    d = Defects(jitter=0.4, wrong_color=0.5, missing_subject=0.5, noise=0.3)
    u = oracle_utilities(d, MOVING)
    # Subject defects ×(1 − 0.5): MQ = −1.0·0.4·0.5; TA = −(1.2·0.5·0.5 + 1.5·0.5); VQ untouched: −0.3.
    assert u["MQ"] == pytest.approx(-0.2)
    assert u["TA"] == pytest.approx(-1.05)
    assert u["VQ"] == pytest.approx(-0.3)
