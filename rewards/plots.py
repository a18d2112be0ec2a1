"""Evaluation figures as PNG (matplotlib, headless backend)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray,
                                                                                            np.ndarray]:
    """On decided pairs: mean predicted P(A≻B | decided) per bin, observed share of A wins, and pair counts."""
    decided = np.isin(labels, (-1.0, 1.0))
    p = np.asarray(probabilities, dtype=np.float64)[decided]
    won = labels[decided] > 0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    predicted, observed, counts = np.full(bins, np.nan), np.full(bins, np.nan), np.zeros(bins, dtype=int)
    for b in range(bins):
        in_bin = which == b
        counts[b] = int(in_bin.sum())
        if counts[b]:
            predicted[b], observed[b] = p[in_bin].mean(), won[in_bin].mean()
    return predicted, observed, counts


def reliability_plot(probabilities: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], path: Path,
                     meaning: str = "σ(Δr)") -> Path:
    """Predicted vs observed win probability per dimension; ``probabilities`` are the model's own P(A≻B | decided)
    (``rewards.losses.decided_win_probability``), ``meaning`` names the formula on the x axis."""
    fig, axes = plt.subplots(1, len(probabilities), figsize=(4 * len(probabilities), 4), squeeze=False)
    for ax, (dim, p) in zip(axes[0], probabilities.items(), strict=True):
        predicted, observed, counts = reliability_bins(np.asarray(p), np.asarray(labels[dim]))
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ok = counts > 0
        ax.scatter(predicted[ok], observed[ok], s=10 + 90 * counts[ok] / max(1, counts.max()))
        ax.plot(predicted[ok], observed[ok])
        ax.set(title=f"{dim} reliability", xlabel=f"predicted P(A better | decided) = {meaning}",
               ylabel="observed share A (decided pairs)", xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def split_tie_decided(margins: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|Δr| of the human-tied pairs and of the decided pairs; a pair with a missing (NaN) label is in neither."""
    m, h = np.abs(np.asarray(margins, dtype=np.float64)), np.asarray(labels, dtype=np.float64)
    return m[h == 0], m[(h == 1) | (h == -1)]  # NaN equals nothing, so it falls out of both


def margin_distribution_plot(margins: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
                             path: Path) -> Path:
    """Distributions of |Δr| for human-tied vs decided pairs (the paper's Fig. 4)."""
    fig, axes = plt.subplots(1, len(margins), figsize=(4 * len(margins), 4), squeeze=False)
    for ax, (dim, m) in zip(axes[0], margins.items(), strict=True):
        tie, decided = split_tie_decided(m, labels[dim])
        both = np.concatenate([tie, decided])
        bins = np.linspace(0, max(1e-6, float(both.max()) if both.size else 1.0), 21)
        ax.hist(decided, bins=bins, alpha=0.6, density=True, label="decided")
        ax.hist(tie, bins=bins, alpha=0.6, density=True, label="tie")
        ax.set(title=f"{dim} |Δr|", xlabel="|r_A − r_B| (normalised)", ylabel="density")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
