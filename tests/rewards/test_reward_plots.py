"""What the evaluation figures plot: the tie/decided split of |Δr| and the model's own P(A≻B | decided)."""
import math

import numpy as np
import pytest
import torch

from rewards.losses import decided_win_probability
from rewards.plots import margin_distribution_plot, reliability_bins, reliability_plot, split_tie_decided

NAN = float("nan")


def test_split_leaves_pairs_with_a_missing_label_out_of_both_groups():
    margins = np.array([0.5, -1.0, 2.0, -0.1, 3.0, -4.0])
    labels = np.array([1.0, 0.0, NAN, 0.0, -1.0, NAN])
    tie, decided = split_tie_decided(margins, labels)
    assert tie.tolist() == [1.0, 0.1]
    assert decided.tolist() == [0.5, 3.0]  # not 2.0 or 4.0: those pairs have no human label


def test_split_with_no_ties_and_no_labels():
    tie, decided = split_tie_decided(np.array([-2.0, 1.0]), np.array([NAN, NAN]))
    assert tie.size == 0 and decided.size == 0
    tie, decided = split_tie_decided(np.array([-2.0, 1.0]), np.array([-1.0, 1.0]))
    assert tie.size == 0 and decided.tolist() == [2.0, 1.0]


def test_btt_probability_of_a_given_a_decided_pair_on_literal_margins():
    # θ = 5. d = 0: P_A = P_B = σ(−ln 5) = 1/6 → 1/2. d = ln 5: P_A = σ(0) = 1/2, P_B = σ(−2 ln 5) = 1/26,
    # so P_A / (P_A + P_B) = (13/26) / (14/26) = 13/14; d = −ln 5 mirrors it to 1/14.
    margins = torch.tensor([0.0, math.log(5), -math.log(5)], dtype=torch.float64)
    p = decided_win_probability(margins, "btt", 5.0)
    assert p.tolist() == pytest.approx([1 / 2, 13 / 14, 1 / 14], abs=1e-12)
    # BT reads the same margins as σ(d): 5/6 at d = ln 5, not 13/14.
    assert decided_win_probability(margins, "bt").tolist() == pytest.approx([1 / 2, 5 / 6, 1 / 6], abs=1e-12)
    # θ = 2, d = ln 2: P_A = σ(0) = 1/2, P_B = σ(−2 ln 2) = 1/5 → (1/2) / (7/10) = 5/7.
    one = torch.tensor([math.log(2)], dtype=torch.float64)
    assert decided_win_probability(one, "btt", 2.0).item() == pytest.approx(5 / 7, abs=1e-12)


def test_an_unknown_loss_has_no_probability():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        decided_win_probability(torch.zeros(1), "hinge")


def test_reliability_bins_take_the_given_probabilities_on_decided_pairs_only():
    p = np.array([0.05, 0.08, 0.55, 0.93, 0.97, 0.50, 0.99])
    labels = np.array([-1.0, 1.0, 1.0, 1.0, 1.0, 0.0, NAN])  # the tie and the missing label are left out
    predicted, observed, counts = reliability_bins(p, labels)
    assert counts.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert predicted[0] == pytest.approx(0.065) and observed[0] == 0.5
    assert predicted[5] == pytest.approx(0.55) and observed[5] == 1.0
    assert predicted[9] == pytest.approx(0.95) and observed[9] == 1.0
    assert np.isnan(predicted[1]) and np.isnan(observed[1])


def test_both_figures_are_written(tmp_path):
    labels = {"VQ": np.array([1.0, -1.0, 0.0, NAN])}
    assert reliability_plot({"VQ": np.array([0.9, 0.2, 0.5, 0.7])}, labels, tmp_path / "r.png").read_bytes()[:4] \
        == b"\x89PNG"
    margins = {"VQ": np.array([1.0, -2.0, 0.1, 9.0])}
    assert margin_distribution_plot(margins, labels, tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
