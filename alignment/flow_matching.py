"""The flow-matching conventions of diffusers (REFERENCE §5), in one place, used by every method.

Conventions: x_σ = (1 − σ)·x₀ + σ·ε with σ ∈ [0, 1]; the network predicts the velocity v = ε − x₀ and
receives the timestep t = 1000·σ; an Euler step from σ to σ_next is x ← x + (σ_next − σ)·v̂.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

NUM_TRAIN_TIMESTEPS = 1000


def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x_σ = (1 − σ)·x₀ + σ·ε; `sigma` has one value per sample (shape [B]) and broadcasts over the rest."""
    s = _per_sample(sigma, x0)
    return (1.0 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The regression target of a flow-matching network: v = ε − x₀."""
    return noise - x0


def sigma_to_timestep(sigma: torch.Tensor) -> torch.Tensor:
    """The transformer's timestep input, t = 1000·σ."""
    return sigma * NUM_TRAIN_TIMESTEPS


def shift_sigma(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """FlowMatchEulerDiscreteScheduler's shift: σ ↦ s·σ / (1 + (s − 1)·σ); s = 1 is the identity."""
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def sample_sigma_logit_normal(
    batch: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0
) -> torch.Tensor:
    """σ = sigmoid(u), u ~ N(mean, std²): the usual training-time distribution (SD3, Wan)."""
    u = torch.randn(batch, generator=generator) * std + mean
    return torch.sigmoid(u)


def sample_sigma_uniform(batch: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """σ ~ U(0, 1); `mean` and `std` are accepted so every sampler has one signature."""
    del mean, std
    return torch.rand(batch, generator=generator)


SIGMA_SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {
    "logit_normal": sample_sigma_logit_normal,
    "uniform": sample_sigma_uniform,
}


def sample_sigma(
    batch: int,
    generator: torch.Generator,
    scheme: str = "logit_normal",
    mean: float = 0.0,
    std: float = 1.0,
    shift: float = 1.0,
) -> torch.Tensor:
    """Draw `batch` training noise levels with `scheme`, then apply the scheduler's shift."""
    if scheme not in SIGMA_SAMPLERS:
        raise ValueError(f"unknown timestep sampling {scheme!r}; choose one of {sorted(SIGMA_SAMPLERS)}")
    sigma = SIGMA_SAMPLERS[scheme](batch, generator, mean=mean, std=std)
    return shift_sigma(sigma, shift)


def euler_step(x: torch.Tensor, velocity: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One Euler step of the probability-flow ODE from σ to σ_next (σ_next < σ when sampling)."""
    return x + (sigma_next - sigma) * velocity


Drift = Callable[[torch.Tensor, float], torch.Tensor]
# ODE solvers of the sampler, dx/dσ = drift(x, σ) integrated from σ = 1 down to 0:
#   euler     one drift evaluation per step, first order (what WanPipeline runs)
#   heun      Euler predictor, then the trapezoid of the drifts at both ends (second order, 2 evaluations per
#             step); the last step to σ = 0 stays Euler, as in Karras et al. 2022 (EDM), Algorithm 1
#   midpoint  a half Euler step, then the whole step with the drift there (second order, 2 evaluations per step)
SOLVERS = ("euler", "heun", "midpoint")


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"unknown ODE solver {solver!r}; choose one of {list(SOLVERS)}")
    return solver


def ode_step(drift: Drift, x: torch.Tensor, sigma: float, sigma_next: float, solver: str = "euler") -> torch.Tensor:
    """One step of `solver` from σ to σ_next."""
    check_solver(solver)
    d = drift(x, sigma)
    if solver == "euler" or (solver == "heun" and sigma_next == 0.0):
        return euler_step(x, d, sigma, sigma_next)
    if solver == "heun":
        d_next = drift(euler_step(x, d, sigma, sigma_next), sigma_next)
        return x + (sigma_next - sigma) * 0.5 * (d + d_next)
    mid = 0.5 * (sigma + sigma_next)
    return x + (sigma_next - sigma) * drift(euler_step(x, d, sigma, mid), mid)


def per_sample_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean‖pred − target‖² over every dimension but the batch: one error per sample, shape [B]."""
    return (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)


def _per_sample(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if value.ndim == 0:
        return value
    if value.shape[0] != like.shape[0]:
        raise ValueError(f"one σ per sample expected: got {value.shape[0]} for a batch of {like.shape[0]}")
    return value.view(-1, *([1] * (like.ndim - 1)))
