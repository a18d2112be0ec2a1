import math

import pytest
import torch

from alignment.losses import (
    btt_loss,
    diffusion_add_noise,
    diffusion_dpo_loss,
    diffusion_target,
    flow_dpo_loss,
    flow_rwr_loss,
    rwr_weights,
    sft_loss,
)

LOG2 = math.log(2.0)


def _pair(winner: float, loser: float) -> torch.Tensor:
    return torch.tensor([[winner], [loser]])


def test_flow_dpo_is_log2_when_policy_equals_reference():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 3, 2, generator=g), torch.randn(4, 3, 2, generator=g)
    out = flow_dpo_loss(pred, pred.clone(), target, torch.rand(2, generator=g), beta=500.0)
    assert out.loss.item() == pytest.approx(LOG2, abs=1e-7)
    assert out.stats["reward_margin"] == 0.0
    assert out.stats["implicit_accuracy"] == 0.0  # no pair has a positive inside term yet


def test_flow_dpo_literal_values():
    target = torch.zeros(2, 1)
    # errors: model winner 1² = 1, model loser 2² = 4, reference 2² = 4 for both.
    # β = 2: r_w = −(2/2)(1 − 4) = 3, r_l = −(4 − 4) = 0, inside = 3, loss = log(1 + e^{−3})
    out = flow_dpo_loss(_pair(1.0, 2.0), _pair(2.0, 2.0), target, torch.tensor([0.3]), beta=2.0)
    assert out.loss.item() == pytest.approx(math.log1p(math.exp(-3.0)), rel=1e-6)
    assert out.stats["reward_margin"] == pytest.approx(3.0)
    assert out.stats["reward_chosen"] == pytest.approx(3.0)
    assert out.stats["implicit_accuracy"] == 1.0


def test_flow_dpo_gradient_favours_the_winner():
    pred = _pair(1.0, 1.0).requires_grad_()
    out = flow_dpo_loss(pred, _pair(1.0, 1.0), torch.zeros(2, 1), torch.tensor([0.5]), beta=2.0)
    out.loss.backward()
    # ∂L/∂e_w = (β/2)·σ(−inside) = 1·0.5 and ∂e_w/∂p_w = 2(p_w − 0) = 2 → +1; the loser gets −1.
    assert torch.allclose(pred.grad, torch.tensor([[1.0], [-1.0]]))
    # a descent step therefore lowers the winner's error and raises the loser's
    stepped = (pred - 0.1 * pred.grad).detach()
    assert stepped[0].abs() < 1.0 < stepped[1].abs()


def test_beta_t_variant_only_reweights():
    model, ref, target = _pair(1.0, 2.0), _pair(2.0, 2.0), torch.zeros(2, 1)
    sigma = torch.tensor([0.5])
    varied = flow_dpo_loss(model, ref, target, sigma, beta=2.0, beta_schedule="one_minus_t_squared")
    # β_t = 2·(1 − 0.5)² = 0.5: inside = −0.25·(−3) = 0.75, the same as the constant loss at β = 0.5
    assert varied.loss.item() == pytest.approx(math.log1p(math.exp(-0.75)), rel=1e-6)
    constant = flow_dpo_loss(model, ref, target, sigma, beta=0.5)
    assert varied.loss.item() == pytest.approx(constant.loss.item(), rel=1e-7)
    # at σ = 1 the weight vanishes and the pair contributes log 2 whatever the errors
    assert flow_dpo_loss(model, ref, target, torch.tensor([1.0]), 2.0, "one_minus_t_squared").loss.item() == (
        pytest.approx(LOG2)
    )


def test_unknown_beta_schedule_is_an_error():
    with pytest.raises(ValueError, match="unknown beta schedule 'linear'"):
        flow_dpo_loss(_pair(1, 1), _pair(1, 1), torch.zeros(2, 1), torch.tensor([0.5]), 1.0, "linear")


def test_diffusion_targets_and_noising():
    x0, eps, abar = torch.tensor([2.0]), torch.tensor([1.0]), torch.tensor([0.64])
    # √0.64 = 0.8, √0.36 = 0.6: x_t = 0.8·2 + 0.6·1 = 2.2; v = 0.8·1 − 0.6·2 = −0.4; ε-target = 1
    assert diffusion_add_noise(x0, eps, abar).item() == pytest.approx(2.2)
    assert diffusion_target(x0, eps, abar, "v_prediction").item() == pytest.approx(-0.4)
    assert diffusion_target(x0, eps, abar, "epsilon").item() == 1.0
    with pytest.raises(ValueError, match="unknown prediction type 'sample'"):
        diffusion_target(x0, eps, abar, "sample")


def test_diffusion_dpo_skips_conditioning_frames():
    # [2 (w, l), C=1, F=2, 1, 1]; frame 0 would make the loser look better, frame 1 favours the winner
    model = torch.tensor([[5.0, 1.0], [0.0, 2.0]]).view(2, 1, 2, 1, 1)
    ref = torch.tensor([[0.0, 2.0], [0.0, 2.0]]).view(2, 1, 2, 1, 1)
    target = torch.zeros(2, 1, 2, 1, 1)
    out = diffusion_dpo_loss(model, ref, target, beta=2.0, skip_first_frames=1)
    # frame 1 only: e_w = 1, e_l = 4, e_ref = 4 → inside = 3 as in the flow literal test
    assert out.loss.item() == pytest.approx(math.log1p(math.exp(-3.0)), rel=1e-6)
    full = diffusion_dpo_loss(model, ref, target, beta=2.0)
    # both frames: e_w = (25 + 1)/2 = 13, e_l = e_ref = 2 → inside = −(13 − 2) = −11
    assert full.loss.item() == pytest.approx(math.log1p(math.exp(11.0)), rel=1e-6)


def test_rwr_weights_are_batch_normalised():
    # softmax([0, ln 3]) = [1/4, 3/4]; times B = 2 → [0.5, 1.5]
    w = rwr_weights(torch.tensor([0.0, math.log(3.0)]), temperature=1.0)
    assert torch.allclose(w, torch.tensor([0.5, 1.5]))
    # invariant to a reward offset, so the scale of the loss does not depend on it
    assert torch.allclose(rwr_weights(torch.tensor([100.0, 100.0 + math.log(3.0)]), 1.0), w)


def test_flow_rwr_loss_literal():
    pred, target = _pair(1.0, 2.0), torch.zeros(2, 1)  # errors 1 and 4
    out = flow_rwr_loss(pred, target, torch.tensor([0.0, math.log(3.0)]))
    # (0.5·1 + 1.5·4)/2 = 3.25; effective samples (0.5 + 1.5)² / (0.25 + 2.25) = 1.6
    assert out.loss.item() == pytest.approx(3.25)
    assert out.stats["effective_samples"] == pytest.approx(1.6)
    # equal rewards reduce to plain flow matching: (1 + 4)/2
    assert flow_rwr_loss(pred, target, torch.tensor([7.0, 7.0])).loss.item() == pytest.approx(2.5)
    assert sft_loss(pred, target).loss.item() == pytest.approx(2.5)


def test_btt_literal_probabilities():
    # d = 0, θ = 5: P(A) = P(B) = σ(−ln 5) = 1/6, P(tie) = 24·(1/6)² = 2/3
    zeros = torch.zeros(3)
    labels = torch.tensor([1.0, 0.0, float("nan")])  # the NaN entry is invalid and masked out
    out = btt_loss(zeros, zeros, labels)
    assert out.loss.item() == pytest.approx((math.log(6.0) + math.log(1.5)) / 2, rel=1e-6)


def test_btt_accuracy_ignores_ties():
    out = btt_loss(torch.tensor([2.0, 0.0, 1.0]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor([1.0, 1.0, 0.0]))
    assert out.stats["accuracy_without_ties"] == 0.5  # right on the first pair, wrong on the second
