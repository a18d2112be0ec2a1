"""Preference losses for the reward model (REFERENCE §3), as small pure functions on tensors.

Conventions shared by all functions:
- ``margin`` is r_A − r_B, shape (B, D) (pairs × dimensions) or any shape matching ``label``.
- ``label`` holds +1 (A better), −1 (B better), 0 (tie); ``valid`` is a bool tensor of the same shape, False
  for entries whose label was missing or unreadable. Invalid entries contribute nothing, and the loss is the
  mean over valid entries only (the public code divides by all entries, which shrinks the loss and the
  gradient whenever labels are missing).
- With no valid entry the loss is an exact 0 that still depends on the inputs, so backward() works.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    count = mask.sum()
    # where() keeps NaN/inf from masked-out entries out of the sum and out of the gradient.
    total = torch.where(mask.bool(), values, torch.zeros_like(values)).sum()
    return total / count.clamp(min=1.0)


def btt_log_probs(margin: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log P(A≻B), log P(B≻A), log P(tie) under Bradley–Terry with ties (Rao–Kupper), θ > 1.

    P(A≻B) = σ(d − ln θ), P(B≻A) = σ(−d − ln θ), P(tie) = (θ² − 1)·σ(d − ln θ)·σ(−d − ln θ).
    """
    if theta <= 1.0:
        raise ValueError(f"theta must be > 1 for ties to have positive probability, got {theta}")
    log_theta = math.log(theta)
    log_a = F.logsigmoid(margin - log_theta)
    log_b = F.logsigmoid(-margin - log_theta)
    log_tie = math.log(theta**2 - 1.0) + log_a + log_b
    return log_a, log_b, log_tie


def btt_probabilities(margin: torch.Tensor, theta: float) -> torch.Tensor:
    """The three probabilities stacked on a new last axis: (..., 3) = (A, B, tie)."""
    return torch.stack(btt_log_probs(margin, theta), dim=-1).exp()


def decided_win_probability(margin: torch.Tensor, loss: str, theta: float = 5.0) -> torch.Tensor:
    """P(A ≻ B | the pair is decided) as the model trained with ``loss`` defines it.

    BTT: P_A / (P_A + P_B) from ``btt_probabilities``; BT: σ(d). Regression defines no pair probability;
    σ(d) is the usual reading of a score margin. Conditional on a decided pair because the reliability plot
    compares it with the observed share of A wins among the pairs humans decided: BTT's unconditional P_A
    also spends mass on ties (P_A = 1/(1 + θ) at d = 0), so set against that share it would look
    miscalibrated even for a perfect model.
    """
    if loss == "btt":
        p = btt_probabilities(margin, theta)
        return p[..., 0] / (p[..., 0] + p[..., 1])
    if loss in ("bt", "regression"):
        return torch.sigmoid(margin)
    raise ValueError(f"unknown loss {loss!r}: expected bt, btt or regression")


def btt_loss(margin: torch.Tensor, label: torch.Tensor, valid: torch.Tensor, theta: float = 5.0) -> torch.Tensor:
    """Negative log-likelihood of the observed label (A, B or tie), averaged over valid entries."""
    log_a, log_b, log_tie = btt_log_probs(margin, theta)
    log_p = torch.where(label > 0, log_a, torch.where(label < 0, log_b, log_tie))
    return _masked_mean(-log_p, valid)


def bt_loss(margin: torch.Tensor, label: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Bradley–Terry: −log σ(±d); ties carry no information for BT and are left out like invalid labels."""
    used = valid & (label != 0)
    return _masked_mean(-F.logsigmoid(margin * label.to(margin.dtype)), used)


def regression_loss(
    score_a: torch.Tensor,
    score_b: torch.Tensor,
    mos_a: torch.Tensor,
    mos_b: torch.Tensor,
    valid: torch.Tensor,
    center: float = 3.0,
) -> torch.Tensor:
    """Mean squared error of each video's score against its centred MOS; ``valid`` masks pairs × dims.

    Each valid pair contributes two squared errors (A and B), so the mean is over 2 × (valid entries).
    """
    err_a = (score_a - (mos_a - center)) ** 2
    err_b = (score_b - (mos_b - center)) ** 2
    return _masked_mean(torch.cat([err_a, err_b]), torch.cat([valid, valid]))
