import math

import numpy as np
import pytest

from alignment.evaluation import win_rate, win_rate_table


def test_ties_count_half_and_the_interval_is_the_normal_one():
    # differences [2, 0, −0.05, 1] with margin 0.1 → win, tie, tie, win → (2 + 2·½)/4 = 0.75
    r = win_rate(np.array([3, 1, 2, 5]), np.array([1, 1, 2.05, 4]), tie_margin=0.1)
    assert (r.wins, r.ties, r.losses, r.rate) == (2, 2, 0, 0.75)
    # outcomes [1, ½, ½, 1]: sample sd = √(4·0.25²/3) = 0.288675; half-width 1.96·0.288675/2 = 0.28290
    assert r.ci_low == pytest.approx(0.75 - 1.959964 * math.sqrt(0.25 / 3) / 2, rel=1e-5)
    assert r.ci_high == 1.0  # clipped
    # d_z: mean diff 0.7375 over sample sd of [2, 0, −0.05, 1]
    assert r.effect_size == pytest.approx(0.7375 / np.std([2, 0, -0.05, 1], ddof=1))


def test_margin_zero_counts_only_exact_equality_as_a_tie():
    r = win_rate(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 2.0]))
    assert (r.wins, r.ties, r.losses) == (1, 1, 1) and r.rate == 0.5


def test_table_and_errors():
    table = win_rate_table({"VQ": [1, 2], "TA": [0, 0]}, {"VQ": [0, 0], "TA": [1, 1]})
    assert table["VQ"].rate == 1.0 and table["TA"].rate == 0.0
    with pytest.raises(ValueError, match="scored on one side only: MQ"):
        win_rate_table({"VQ": [1, 2], "MQ": [1, 1]}, {"VQ": [0, 0]})
    with pytest.raises(ValueError, match="equal-length"):
        win_rate(np.array([1, 2]), np.array([1, 2, 3]))
