"""Loss functions of the alignment methods (REFERENCE §3, §6), each a small pure function.

Batches of pairs follow the diffusers DPO-script convention: predictions and targets hold the winners in the
first half and the losers in the second half (shape [2B, ...]). Every loss returns a `LossOutput`: the scalar
to back-propagate plus detached statistics for the logs.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from alignment.flow_matching import per_sample_mse


@dataclass
class LossOutput:
    loss: torch.Tensor
    stats: dict[str, float] = field(default_factory=dict)


def _beta_constant(beta: float, sigma: torch.Tensor) -> torch.Tensor:
    return torch.full_like(sigma, beta)


def _beta_one_minus_t_squared(beta: float, sigma: torch.Tensor) -> torch.Tensor:
    # t is the flow time in [0, 1] (σ); the paper's naive derivation, which reward-hacked (Table 4).
    return beta * (1.0 - sigma) ** 2


BETA_SCHEDULES: dict[str, Callable[[float, torch.Tensor], torch.Tensor]] = {
    "constant": _beta_constant,
    "one_minus_t_squared": _beta_one_minus_t_squared,
}


def split_pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[2B, ...] → (winners [B, ...], losers [B, ...])."""
    if x.shape[0] % 2:
        raise ValueError(f"a pair batch needs an even leading size, got {x.shape[0]}")
    return x.chunk(2)


def dpo_loss_from_errors(
    model_err_w: torch.Tensor,
    model_err_l: torch.Tensor,
    ref_err_w: torch.Tensor,
    ref_err_l: torch.Tensor,
    beta: torch.Tensor,
) -> LossOutput:
    """−log σ(−(β/2)·[(e_θ(w) − e_ref(w)) − (e_θ(l) − e_ref(l))]), averaged over pairs.

    The implicit reward of a sample is r(x) = −(β/2)·(e_θ(x) − e_ref(x)); the inside term is r(w) − r(l), its
    mean is logged as the reward margin and the share of positive inside terms as the implicit accuracy.
    `beta` is one value per pair (shape [B]) so that σ-dependent weightings share this function.
    """
    reward_w = -0.5 * beta * (model_err_w - ref_err_w.detach())
    reward_l = -0.5 * beta * (model_err_l - ref_err_l.detach())
    inside = reward_w - reward_l
    loss = F.softplus(-inside).mean()  # softplus(−z) = −log σ(z), stable for large |z|
    stats = {
        "loss": loss.item(),
        "implicit_accuracy": (inside > 0).float().mean().item(),
        "reward_margin": inside.mean().item(),
        "reward_chosen": reward_w.mean().item(),
        "reward_rejected": reward_l.mean().item(),
        "model_error_chosen": model_err_w.mean().item(),
        "model_error_rejected": model_err_l.mean().item(),
    }
    return LossOutput(loss, stats)


def flow_dpo_loss(
    model_pred: torch.Tensor,
    ref_pred: torch.Tensor,
    target: torch.Tensor,
    sigma: torch.Tensor,
    beta: float,
    beta_schedule: str = "constant",
) -> LossOutput:
    """Flow-DPO on a pair batch [2B, ...] (winners first) whose two halves share noise and σ.

    `target` is the velocity ε − x₀ of each sample; `sigma` holds one σ per pair (shape [B]). With
    beta_schedule="one_minus_t_squared" each pair's β becomes β·(1 − σ)²; nothing else changes.
    """
    if beta_schedule not in BETA_SCHEDULES:
        raise ValueError(f"unknown beta schedule {beta_schedule!r}; choose one of {sorted(BETA_SCHEDULES)}")
    model_err_w, model_err_l = split_pair(per_sample_mse(model_pred, target))
    ref_err_w, ref_err_l = split_pair(per_sample_mse(ref_pred, target))
    beta_per_pair = BETA_SCHEDULES[beta_schedule](beta, sigma.to(model_err_w))
    return dpo_loss_from_errors(model_err_w, model_err_l, ref_err_w, ref_err_l, beta_per_pair)


def diffusion_add_noise(x0: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """DDPM forward process: x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε, one ᾱ per sample."""
    a = alpha_bar.to(x0).view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def _epsilon_target(x0: torch.Tensor, noise: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return noise


def _v_target(x0: torch.Tensor, noise: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return a.sqrt() * noise - (1 - a).sqrt() * x0


DIFFUSION_TARGETS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "epsilon": _epsilon_target,
    "v_prediction": _v_target,
}


def diffusion_target(
    x0: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """The regression target of an epsilon- (ε) or v-prediction (√ᾱ·ε − √(1 − ᾱ)·x₀) diffusion model."""
    if prediction_type not in DIFFUSION_TARGETS:
        raise ValueError(f"unknown prediction type {prediction_type!r}; choose one of {sorted(DIFFUSION_TARGETS)}")
    a = alpha_bar.to(x0).view(-1, *([1] * (x0.ndim - 1)))
    return DIFFUSION_TARGETS[prediction_type](x0, noise, a)


def frame_error(pred: torch.Tensor, target: torch.Tensor, skip_first_frames: int = 0) -> torch.Tensor:
    """`per_sample_mse` over the latent frames after the first `skip_first_frames` ([B, C, F, H, W]): conditioning
    frames are given, not generated, so they carry no preference."""
    return per_sample_mse(pred[:, :, skip_first_frames:], target[:, :, skip_first_frames:])


def diffusion_dpo_loss(
    model_pred: torch.Tensor,
    ref_pred: torch.Tensor,
    target: torch.Tensor,
    beta: float,
    skip_first_frames: int = 0,
) -> LossOutput:
    """Diffusion-DPO (Wallace et al.) for epsilon/v-prediction video models, [2B, C, F, H, W] winners first.

    `skip_first_frames` drops conditioning frames from the error (HuViDPO excludes the first frame of its
    first-frame-conditioned model).
    """
    model_err_w, model_err_l = split_pair(frame_error(model_pred, target, skip_first_frames))
    ref_err_w, ref_err_l = split_pair(frame_error(ref_pred, target, skip_first_frames))
    return dpo_loss_from_errors(model_err_w, model_err_l, ref_err_w, ref_err_l, torch.full_like(model_err_w, beta))


def rwr_weights(rewards: torch.Tensor, temperature: float) -> torch.Tensor:
    """Reward-weighted-regression weights w_i = B·softmax(r/τ)_i, detached.

    Normalised within the batch so that they sum to the batch size B: equal rewards give every sample weight
    1 (plain flow matching), and the loss keeps the flow-matching scale whatever the rewards' offset (exp(r)
    alone would scale the learning rate by e^{mean r}). τ sets how sharply the best samples dominate.
    """
    if temperature <= 0:
        raise ValueError(f"RWR temperature must be positive, got {temperature}")
    return (rewards.shape[0] * torch.softmax(rewards.float() / temperature, dim=0)).detach()


def flow_rwr_loss(
    model_pred: torch.Tensor, target: torch.Tensor, rewards: torch.Tensor, temperature: float = 1.0
) -> LossOutput:
    """Flow-RWR: mean_i w_i·e_θ(x_i) with the batch-normalised weights of `rwr_weights`."""
    err = per_sample_mse(model_pred, target)
    weights = rwr_weights(rewards, temperature).to(err)
    loss = (weights * err).mean()
    ess = (weights.sum() ** 2 / weights.pow(2).sum()).item()  # effective sample size, B when uniform
    return LossOutput(loss, {"loss": loss.item(), "weight_max": weights.max().item(), "effective_samples": ess})


def sft_loss(model_pred: torch.Tensor, target: torch.Tensor) -> LossOutput:
    """Plain flow-matching loss (used on the preferred samples only)."""
    loss = per_sample_mse(model_pred, target).mean()
    return LossOutput(loss, {"loss": loss.item()})


def btt_loss(reward_a: torch.Tensor, reward_b: torch.Tensor, labels: torch.Tensor, theta: float = 5.0) -> LossOutput:
    """Bradley–Terry with ties (Rao–Kupper), averaged over valid entries.

    With d = r_A − r_B: P(A ≻ B) = σ(d − ln θ), P(B ≻ A) = σ(−d − ln θ), P(tie) = (θ² − 1)·σ(d − ln θ)·σ(−d − ln θ).
    `labels` holds +1 (A), −1 (B), 0 (tie); any other value (e.g. NaN) is invalid and masked out.
    """
    if theta <= 1:
        raise ValueError(f"BTT needs θ > 1, got {theta}")
    d = reward_a - reward_b
    log_theta = math.log(theta)
    log_a = F.logsigmoid(d - log_theta)
    log_b = F.logsigmoid(-d - log_theta)
    log_tie = math.log(theta**2 - 1) + log_a + log_b
    labels = labels.to(d)
    valid = (labels == 1) | (labels == -1) | (labels == 0)
    if not valid.any():
        raise ValueError("btt_loss: no valid label in the batch")
    log_p = torch.where(labels == 1, log_a, torch.where(labels == -1, log_b, log_tie))
    loss = -(log_p * valid).sum() / valid.sum()
    decided = valid & (labels != 0)
    accuracy = ((torch.sign(d) == labels) & decided).sum() / decided.sum().clamp(min=1)
    return LossOutput(loss, {"loss": loss.item(), "accuracy_without_ties": accuracy.item()})
