"""Win rates of an aligned generator against its base (REFERENCE §4): same prompts and seeds, scored per
dimension; a pair counts as a tie when the score difference is within `tie_margin` (measurement noise), and a
tie counts half. The paper's Table 4 layout: one win rate per dimension.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class WinRate:
    rate: float  # (wins + ties/2) / n
    wins: int
    ties: int
    losses: int
    ci_low: float  # 95% normal-approximation interval of the mean outcome
    ci_high: float
    effect_size: float  # mean paired difference / its standard deviation (Cohen's d_z)

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses


def win_rate(aligned: np.ndarray, base: np.ndarray, tie_margin: float | np.ndarray = 0.0) -> WinRate:
    """Per-pair outcome 1 (aligned better by more than the margin), 0 (worse by more), ½ otherwise.

    `tie_margin` is one number or one per pair (e.g. the measurement noise of the two scores compared).
    """
    aligned, base = np.asarray(aligned, dtype=float), np.asarray(base, dtype=float)
    if aligned.shape != base.shape or aligned.ndim != 1 or len(aligned) < 2:
        raise ValueError(f"need two equal-length score vectors of ≥ 2 pairs, got {aligned.shape} and {base.shape}")
    tie_margin = np.asarray(tie_margin, dtype=float)
    if tie_margin.ndim > 1 or (tie_margin.ndim == 1 and tie_margin.shape != aligned.shape):
        raise ValueError(f"tie_margin must be one number or one per pair, got shape {tie_margin.shape}")
    if np.any(tie_margin < 0) or np.any(np.isnan(tie_margin)):
        raise ValueError(f"tie_margin must be ≥ 0, got {tie_margin}")
    diff = aligned - base
    outcome = np.where(diff > tie_margin, 1.0, np.where(diff < -tie_margin, 0.0, 0.5))
    n = len(outcome)
    mean = float(outcome.mean())
    half_width = Z_95 * float(outcome.std(ddof=1)) / math.sqrt(n)
    sd = float(diff.std(ddof=1))
    return WinRate(
        rate=mean,
        wins=int((outcome == 1).sum()),
        ties=int((outcome == 0.5).sum()),
        losses=int((outcome == 0).sum()),
        ci_low=max(0.0, mean - half_width),
        ci_high=min(1.0, mean + half_width),
        effect_size=float(diff.mean()) / sd if sd > 0 else 0.0,
    )


def win_rate_table(
    aligned: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    tie_margins: Mapping[str, float | np.ndarray] | None = None,
) -> dict[str, WinRate]:
    """One `WinRate` per dimension present in both score tables."""
    missing = set(aligned) ^ set(base)
    if missing:
        raise ValueError(f"dimensions scored on one side only: {', '.join(sorted(missing))}")
    margins = tie_margins or {}
    return {d: win_rate(aligned[d], base[d], margins.get(d, 0.0)) for d in aligned}
