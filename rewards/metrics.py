"""Pairwise accuracy with and without ties (REFERENCE §4), in numpy.

Human label h ∈ {+1, −1, 0} (A better, B better, tie); NaN marks a missing label and is dropped. Model
margin m = score(A) − score(B). At a threshold ε the model calls a tie when |m| ≤ ε, otherwise the winner
is sign(m). "No model ties" is ε < 0: then a margin of exactly 0 names no winner and is never correct.

Accuracy with ties (tie calibration) is the best (C + Thm) / N over ε ∈ {no model ties} ∪ {every observed
|m|}. Pairs sharing one |m| change state together (a threshold cannot split them), which is why the counts
are updated per group of equal |m|, not one pair at a time.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata


@dataclass(frozen=True)
class TieAccuracy:
    """Tie-calibrated accuracy; ``epsilon`` None means the best threshold was "no model ties"."""

    accuracy: float
    epsilon: float | None
    n: int


@dataclass(frozen=True)
class DimensionAccuracy:
    with_ties: float
    epsilon: float | None
    without_ties: float
    n: int
    n_without_ties: int

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _clean(margins: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(margins, dtype=np.float64).reshape(-1)
    h = np.asarray(labels, dtype=np.float64).reshape(-1)
    if m.shape != h.shape:
        raise ValueError(f"margins and labels differ in length: {m.shape[0]} vs {h.shape[0]}")
    keep = ~np.isnan(h)
    if np.isnan(m[keep]).any():
        raise ValueError("margins contain NaN for a labelled pair")
    h = h[keep]
    if not np.isin(h, (-1.0, 0.0, 1.0)).all():
        raise ValueError("labels must be +1, -1, 0 or NaN (missing)")
    return m[keep], h


def accuracy_with_ties(margins: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> TieAccuracy:
    """Tie-calibrated pairwise accuracy in O(N log N); ε is tuned on these pairs and reported."""
    m, h = _clean(margins, labels)
    n = int(m.size)
    if n == 0:
        return TieAccuracy(accuracy=float("nan"), epsilon=None, n=0)
    # ε < 0: nothing tied; correct = pairs where the model's winner equals the human's (m = 0 names none).
    agrees = (h != 0) & (np.sign(m) == h)
    best_correct, best_eps = int(agrees.sum()), None

    # Raising ε past |m| turns that pair into a model tie: +1 if the human tied it (Thm), −1 if it was C.
    order = np.argsort(np.abs(m), kind="stable")
    abs_sorted = np.abs(m)[order]
    delta = (h[order] == 0).astype(np.int64) - agrees[order].astype(np.int64)
    correct_after = best_correct + np.cumsum(delta)
    # The last index of each run of equal |m|: the state once the whole group has moved.
    group_ends = np.flatnonzero(np.r_[abs_sorted[1:] != abs_sorted[:-1], True])
    candidates = correct_after[group_ends]
    i = int(np.argmax(candidates))  # first maximum: the smallest ε that achieves it
    if candidates[i] > best_correct:
        best_correct, best_eps = int(candidates[i]), float(abs_sorted[group_ends[i]])
    return TieAccuracy(accuracy=best_correct / n, epsilon=best_eps, n=n)


def accuracy_without_ties(margins: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> float:
    """Accuracy over the pairs the human did not tie, with no model ties (a zero margin counts as wrong)."""
    m, h = _clean(margins, labels)
    decided = h != 0
    if not decided.any():
        return float("nan")
    return float((np.sign(m[decided]) == h[decided]).mean())


def dimension_accuracy(margins: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> DimensionAccuracy:
    tie = accuracy_with_ties(margins, labels)
    _, h = _clean(margins, labels)
    return DimensionAccuracy(
        with_ties=tie.accuracy,
        epsilon=tie.epsilon,
        without_ties=accuracy_without_ties(margins, labels),
        n=tie.n,
        n_without_ties=int((h != 0).sum()),
    )


def accuracy_report(
    margins: Mapping[str, Sequence[float] | np.ndarray],
    labels: Mapping[str, Sequence[float] | np.ndarray],
    dimensions: Sequence[str] = ("VQ", "MQ", "TA"),
) -> dict[str, DimensionAccuracy]:
    """Per-dimension accuracies, plus "Overall" when an Overall label is given (its margin is the sum)."""
    report = {d: dimension_accuracy(margins[d], labels[d]) for d in dimensions}
    if "Overall" in labels:
        overall = np.sum([np.asarray(margins[d], dtype=np.float64) for d in dimensions], axis=0)
        report["Overall"] = dimension_accuracy(overall, labels["Overall"])
    return report


def bootstrap_ci(
    margins: Sequence[float] | np.ndarray,
    labels: Sequence[float] | np.ndarray,
    with_ties: bool = False,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of an accuracy (pairs resampled with replacement).

    For accuracy with ties ε is re-tuned in every resample, as it would be on a new evaluation set.
    """
    m, h = _clean(margins, labels)
    if m.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, m.size, m.size)
        stats[b] = accuracy_with_ties(m[idx], h[idx]).accuracy if with_ties else accuracy_without_ties(m[idx], h[idx])
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:  # e.g. every pair a human tie: accuracy without ties is not measurable
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def tie_separation_auc(margins: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray) -> float:
    """AUC of |m| for telling decided pairs (positive) from human ties: P(|m_decided| > |m_tie|), ties ½.

    0.5 means the margins carry no information about whether humans tied (the paper's Fig. 4 question).
    """
    m, h = _clean(margins, labels)
    decided, tied = np.abs(m[h != 0]), np.abs(m[h == 0])
    if decided.size == 0 or tied.size == 0:
        return float("nan")
    # Mann–Whitney U from mid-ranks: O(N log N) and exact with repeated values.
    ranks = rankdata(np.concatenate([decided, tied]))
    u = ranks[: decided.size].sum() - decided.size * (decided.size + 1) / 2
    return float(u / (decided.size * tied.size))
