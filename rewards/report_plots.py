"""Figures of the ablation report (PNG, headless matplotlib): Table 3 as bars, Fig. 3 curves, Fig. 4 |Δr|."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

from rewards.plots import split_tie_decided  # noqa: E402 - one tie/decided split for both |Δr| figures

DIMS: tuple[str, ...] = ("VQ", "MQ", "TA", "Overall")


def _err(value: float, ci: Sequence[float]) -> list[list[float]]:
    return [[max(0.0, value - ci[0])], [max(0.0, ci[1] - value)]]


def table3_plot(rows: Mapping[str, Mapping[str, Any]], oracle: Mapping[str, Any], path: Path) -> Path:
    """Accuracy without and with ties per dimension: one bar per method with its 95% interval, the oracle
    ceiling as a line."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), squeeze=False)
    width = 0.8 / max(1, len(rows))
    for ax, kind in zip(axes[0], ("without_ties", "with_ties"), strict=True):
        x = np.arange(len(DIMS))
        for i, (name, test) in enumerate(rows.items()):
            for j, d in enumerate(DIMS):
                value = test[d][f"model_{kind}"]
                ax.bar(x[j] + (i - (len(rows) - 1) / 2) * width, value, width, color=f"C{i}",
                       yerr=_err(value, test[d][f"model_{kind}_ci95"]), capsize=2, label=name if j == 0 else None)
        for j, d in enumerate(DIMS):
            ax.hlines(oracle[d][f"oracle_{kind}"], x[j] - 0.45, x[j] + 0.45, colors="black", linestyles="--",
                      label="oracle ceiling" if j == 0 else None)
        ax.set(xticks=x, xticklabels=DIMS, ylim=(0.3, 1.0), ylabel="accuracy",
               title=f"accuracy {kind.replace('_', ' ')} (95% CI)")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def fraction_plot(curves: Mapping[str, Mapping[float, Mapping[str, Any]]], oracle: Mapping[str, Any],
                  kind: str, path: Path) -> Path:
    """Fig. 3: accuracy vs the fraction of training judgements, per dimension, with 95% intervals."""
    fig, axes = plt.subplots(1, len(DIMS), figsize=(4 * len(DIMS), 3.6), squeeze=False)
    for ax, d in zip(axes[0], DIMS, strict=True):
        for i, (name, by_fraction) in enumerate(curves.items()):
            fractions = sorted(by_fraction)
            values = [by_fraction[f][d][f"model_{kind}"] for f in fractions]
            lo = [by_fraction[f][d][f"model_{kind}_ci95"][0] for f in fractions]
            hi = [by_fraction[f][d][f"model_{kind}_ci95"][1] for f in fractions]
            ax.plot(fractions, values, marker="o", color=f"C{i}", label=name)
            ax.fill_between(fractions, lo, hi, color=f"C{i}", alpha=0.15)
        ax.axhline(oracle[d][f"oracle_{kind}"], color="black", linestyle="--", label="oracle ceiling")
        ax.set(xscale="log", title=f"{d}", xlabel="fraction of training judgements",
               ylabel=f"accuracy {kind.replace('_', ' ')}", ylim=(0.3, 1.0))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def tie_margin_plot(margins: Mapping[str, np.ndarray], labels: np.ndarray, aucs: Mapping[str, float],
                    path: Path) -> Path:
    """Fig. 4: |Δr| (normalised) of human-tied vs decided pairs, one panel per model."""
    fig, axes = plt.subplots(1, len(margins), figsize=(4.5 * len(margins), 3.6), squeeze=False)
    for ax, (name, m) in zip(axes[0], margins.items(), strict=True):
        tie, decided = split_tie_decided(m, labels)
        bins = np.linspace(0, float(np.quantile(np.concatenate([decided, tie]), 0.99)) + 1e-6, 25)
        ax.hist(decided, bins=bins, density=True, alpha=0.6, label="decided pairs")
        if tie.size:
            ax.hist(tie, bins=bins, density=True, alpha=0.6, label="tied pairs")
        ax.set(title=f"{name}: AUC of |Δr| = {aucs[name]:.3f}", xlabel="|r_A − r_B| (normalised, Overall)",
               ylabel="density")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
