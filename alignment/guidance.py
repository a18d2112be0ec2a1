"""Reward guidance: the gradient term λ·∇ₓR(x_σ, σ) added to each Euler step after classifier-free guidance.

R = Σ_d w_d·r_d is the user-weighted sum of the latent reward model's dimensions; weights of zero give an
exactly zero gradient, so sampling with all weights zero equals unguided sampling.
"""
from __future__ import annotations

import torch

from alignment.latent_reward import LatentRewardModel
from alignment.sampling import RewardGrad


class GuidanceError(ValueError):
    """Guidance weights that do not fit the reward model."""


def parse_guidance(text: str) -> dict[str, float]:
    """'VQ=0.5,MQ=0.5,TA=0' → weights per dimension; unlike pair weights, all zeros is allowed (no guidance)."""
    weights: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise GuidanceError(f"guidance {text!r}: expected NAME=NUMBER items, got {item!r}")
    return weights


def reward_gradient(
    model: LatentRewardModel, embeds: torch.Tensor, weights: dict[str, float], scale: float = 1.0
) -> RewardGrad:
    """λ·∇ₓ Σ_d w_d·r_d(x, σ) for the prompts whose embeddings are `embeds` [B, L, D]."""
    unknown = set(weights) - set(model.dimensions)
    if unknown:
        raise GuidanceError(f"the latent reward model has no dimension {', '.join(sorted(unknown))}")
    w = torch.tensor([float(weights.get(d, 0.0)) for d in model.dimensions])

    def grad(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            total = (model(x, sigma, embeds) * w.to(x.device)).sum()
            (g,) = torch.autograd.grad(total, x)
        return scale * g.float()

    return grad
