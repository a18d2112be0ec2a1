"""Losses on literal tensors; every expected value is worked out by hand in the comments."""
import math

import pytest
import torch

from rewards.losses import bt_loss, btt_log_probs, btt_loss, btt_probabilities, regression_loss

LN5 = math.log(5.0)


def test_btt_probabilities_at_zero_margin_are_one_sixth_one_sixth_two_thirds():
    # σ(−ln θ) = 1/(1+θ) = 1/6 for A and for B; tie = (25 − 1)·(1/6)·(1/6) = 24/36 = 2/3.
    p = btt_probabilities(torch.tensor([0.0]), theta=5.0)[0]
    assert p.tolist() == pytest.approx([1 / 6, 1 / 6, 2 / 3], abs=1e-6)


def test_btt_probabilities_at_margin_ln_theta():
    # d = ln 5: P(A) = σ(0) = 1/2; P(B) = σ(−2 ln 5) = 1/26; P(tie) = 24·(1/2)·(1/26) = 12/26.
    p = btt_probabilities(torch.tensor([LN5]), theta=5.0)[0]
    assert p.tolist() == pytest.approx([13 / 26, 1 / 26, 12 / 26], abs=1e-6)


@pytest.mark.parametrize("theta", [1.5, 5.0, 20.0])
def test_btt_three_probabilities_sum_to_one(theta):
    margins = torch.tensor([-30.0, -3.0, -0.2, 0.0, 0.7, 4.0, 30.0], dtype=torch.float64)
    total = btt_probabilities(margins, theta).sum(-1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)


def test_btt_rejects_theta_not_above_one():
    with pytest.raises(ValueError, match="theta"):
        btt_log_probs(torch.zeros(1), theta=1.0)


def test_btt_loss_is_negative_log_of_observed_label_probability():
    # Pair 0, d = ln 5, label A: −log(1/2) = ln 2.  Pair 1, d = ln 5, label tie: −log(12/26) = ln(26/12).
    # Pair 2, d = 0, label B: −log(1/6) = ln 6.  Mean of the three.
    margin = torch.tensor([LN5, LN5, 0.0])
    label = torch.tensor([1, 0, -1])
    valid = torch.tensor([True, True, True])
    expected = (math.log(2) + math.log(26 / 12) + math.log(6)) / 3
    assert btt_loss(margin, label, valid, theta=5.0).item() == pytest.approx(expected, rel=1e-6)


def test_btt_loss_averages_over_valid_entries_only():
    # The invalid entry (huge margin, label B) would add ~1000 to the sum; the mean is over the one valid entry.
    margin = torch.tensor([[0.0, 1000.0]])
    label = torch.tensor([[1, -1]])
    valid = torch.tensor([[True, False]])
    assert btt_loss(margin, label, valid).item() == pytest.approx(math.log(6), rel=1e-6)


def test_btt_gradient_directions_per_label():
    # dL/dd for label A = −σ(ln θ − d); at d = 0: −σ(ln 5) = −5/6 (raise the margin).
    # Label B mirrors it: +5/6.  Label tie: dL/dd = σ(d + ln θ) − σ(ln θ − d); at d = ln 5: 25/26 − 1/2 = 6/13
    # (pull the margin back towards 0); at d = −ln 5: −6/13; at d = 0 it is 0.
    cases = [(0.0, 1, -5 / 6), (0.0, -1, 5 / 6), (LN5, 0, 6 / 13), (-LN5, 0, -6 / 13), (0.0, 0, 0.0)]
    for d, lab, expected in cases:
        margin = torch.tensor([d], requires_grad=True)
        btt_loss(margin, torch.tensor([lab]), torch.tensor([True])).backward()
        assert margin.grad.item() == pytest.approx(expected, abs=1e-6), (d, lab)


def test_bt_loss_hand_values_and_ties_left_out():
    # d = ln 3, label A: −log σ(ln 3) = −log(3/4) = ln(4/3); label B: −log σ(−ln 3) = −log(1/4) = ln 4.
    # The tie entry is ignored by BT, so the mean is over two entries.
    margin = torch.tensor([math.log(3), math.log(3), 5.0])
    label = torch.tensor([1, -1, 0])
    valid = torch.ones(3, dtype=torch.bool)
    expected = (math.log(4 / 3) + math.log(4)) / 2
    assert bt_loss(margin, label, valid).item() == pytest.approx(expected, rel=1e-6)


def test_bt_gradient_pushes_towards_the_preferred_video():
    # dL/dd = −σ(−d)·label; at d = 0: −1/2 for A, +1/2 for B.
    margin = torch.zeros(2, requires_grad=True)
    bt_loss(margin, torch.tensor([1, -1]), torch.ones(2, dtype=torch.bool)).backward()
    # The mean over 2 entries halves each: −1/4 and +1/4.
    assert margin.grad.tolist() == pytest.approx([-0.25, 0.25])


def test_losses_without_any_valid_entry_are_zero_and_differentiable():
    margin = torch.tensor([[2.0, -1.0]], requires_grad=True)
    none_valid = torch.zeros(1, 2, dtype=torch.bool)
    loss = btt_loss(margin, torch.tensor([[1, 0]]), none_valid) + bt_loss(margin, torch.tensor([[1, 0]]), none_valid)
    loss.backward()
    assert loss.item() == 0.0
    assert margin.grad.tolist() == [[0.0, 0.0]]


def test_regression_loss_against_centred_mos():
    # Pair 0: A scores 1 vs MOS 5 − 3 = 2 → 1; B scores 0 vs MOS 2 − 3 = −1 → 1.
    # Pair 1: A 0.5 vs 4 − 3 = 1 → 0.25; B −1 vs 1 − 3 = −2 → 1.  Pair 2 invalid (would add 100s).
    score_a = torch.tensor([[1.0], [0.5], [20.0]])
    score_b = torch.tensor([[0.0], [-1.0], [20.0]])
    mos_a = torch.tensor([[5.0], [4.0], [1.0]])
    mos_b = torch.tensor([[2.0], [1.0], [1.0]])
    valid = torch.tensor([[True], [True], [False]])
    expected = (1 + 1 + 0.25 + 1) / 4
    assert regression_loss(score_a, score_b, mos_a, mos_b, valid).item() == pytest.approx(expected)
