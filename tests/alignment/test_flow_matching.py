import math

import pytest
import torch

from alignment.flow_matching import (
    add_noise,
    euler_step,
    per_sample_mse,
    sample_sigma,
    shift_sigma,
    sigma_to_timestep,
    velocity_target,
)


def test_add_noise_interpolates_per_sample():
    x0 = torch.tensor([[2.0, 4.0], [2.0, 4.0]])
    eps = torch.tensor([[0.0, 8.0], [0.0, 8.0]])
    sigma = torch.tensor([0.25, 1.0])
    # sample 0: 0.75·[2, 4] + 0.25·[0, 8] = [1.5, 5]; sample 1 is pure noise
    assert torch.equal(add_noise(x0, eps, sigma), torch.tensor([[1.5, 5.0], [0.0, 8.0]]))


def test_velocity_and_timestep():
    assert torch.equal(velocity_target(torch.tensor([2.0]), torch.tensor([0.5])), torch.tensor([-1.5]))
    assert torch.equal(sigma_to_timestep(torch.tensor([0.25])), torch.tensor([250.0]))


def test_exact_velocity_euler_step_lands_on_clean_sample():
    # x_σ = (1 − σ)x₀ + σε moves along a straight line with velocity ε − x₀: one step from σ=0.8 to 0.3
    # with the true velocity must give x_0.3 exactly.
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    x = add_noise(x0, eps, torch.tensor(0.8))
    stepped = euler_step(x, velocity_target(x0, eps), 0.8, 0.3)
    assert torch.allclose(stepped, add_noise(x0, eps, torch.tensor(0.3)), atol=1e-6)


def test_shift_mapping():
    # s·σ / (1 + (s − 1)·σ): s=3, σ=0.5 → 1.5/2 = 0.75; s=7, σ=0.5 → 3.5/4 = 0.875; endpoints fixed
    sig = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(shift_sigma(sig, 3.0), torch.tensor([0.0, 0.75, 1.0]))
    assert torch.allclose(shift_sigma(sig, 7.0), torch.tensor([0.0, 0.875, 1.0]))
    assert torch.equal(shift_sigma(sig, 1.0), sig)


def test_logit_normal_quantiles():
    sigma = sample_sigma(20000, torch.Generator().manual_seed(1), "logit_normal")
    # σ = sigmoid(u), u ~ N(0, 1): P(σ < 0.5) = 0.5 and P(σ < sigmoid(1)) = Φ(1) ≈ 0.8413
    assert abs((sigma < 0.5).float().mean().item() - 0.5) < 0.015
    assert abs((sigma < 1 / (1 + math.exp(-1))).float().mean().item() - 0.8413) < 0.015


def test_sampling_is_seeded_and_shifted():
    a = sample_sigma(5, torch.Generator().manual_seed(3), "uniform", shift=3.0)
    b = sample_sigma(5, torch.Generator().manual_seed(3), "uniform")
    assert torch.allclose(a, shift_sigma(b, 3.0))
    with pytest.raises(ValueError, match="unknown timestep sampling 'cosine'"):
        sample_sigma(5, torch.Generator(), "cosine")


def test_per_sample_mse():
    pred = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    # sample 0: (1 + 9)/2 = 5; sample 1: 0
    assert torch.equal(per_sample_mse(pred, torch.zeros(2, 2)), torch.tensor([5.0, 0.0]))
