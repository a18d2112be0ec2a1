"""Label-quality statistics as vectorised functions over label arrays (no database access here).

Labels are coded as small integers per dimension: 0 = A, 1 = B, 2 = same (`same` is its own category).
"""

import math
from dataclasses import dataclass

import numpy as np

CATEGORIES = ("A", "B", "same")
CODE = {label: index for index, label in enumerate(CATEGORIES)}


def _indexed_counts(units: np.ndarray, values: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """(row of each value's unit, per-unit category counts of shape (n_units, n_categories))."""
    _, unit_index = np.unique(units, return_inverse=True)
    counts = np.zeros((unit_index.max() + 1 if len(unit_index) else 0, n_categories), dtype=np.int64)
    np.add.at(counts, (unit_index, values), 1)
    return unit_index, counts


def unit_counts(units: np.ndarray, values: np.ndarray, n_categories: int) -> np.ndarray:
    """Per unit, how many values fell in each category: shape (n_units, n_categories).

    `units` are arbitrary integer ids (one per value); `values` category codes 0..n_categories-1.
    """
    return _indexed_counts(units, values, n_categories)[1]


def krippendorff_alpha_nominal(counts: np.ndarray) -> float:
    """Krippendorff's alpha for nominal data from per-unit category counts (missing values simply absent).

    alpha = 1 − (n − 1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k, with the coincidence matrix
    o_ck = Σ_u (m_u_c · m_u_k − [c = k] · m_u_c) / (m_u − 1) over units with at least two values.
    """
    m = counts.sum(axis=1)
    pairable = counts[m >= 2].astype(float)
    m = m[m >= 2].astype(float)
    if len(m) == 0:
        return float("nan")
    coincidence = np.einsum("uc,uk->ck", pairable / (m - 1)[:, None], pairable)
    coincidence -= np.diag((pairable / (m - 1)[:, None]).sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    observed = coincidence.sum() - np.trace(coincidence)
    expected = n_c.sum() ** 2 - (n_c**2).sum()
    if expected == 0:
        return 1.0 if observed == 0 else float("nan")
    return float(1 - (n - 1) * observed / expected)


def pairwise_agreement(counts: np.ndarray) -> float:
    """Share of agreeing pairs among all pairs of values within a unit."""
    m = counts.sum(axis=1)
    pairs = (m * (m - 1)).sum()
    if pairs == 0:
        return float("nan")
    return float((counts * (counts - 1)).sum() / pairs)


def binomial_two_sided_p(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test: the probability of outcomes no more likely than k successes in n."""
    if n == 0:
        return 1.0

    def log_pmf(i: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log(1 - p)

    observed = log_pmf(k)
    # A relative tolerance, as scipy does, so that outcomes equally likely up to rounding are counted.
    total = sum(math.exp(value) for value in map(log_pmf, range(n + 1)) if value <= observed + 1e-7)
    return min(1.0, total)


def majority_of_others(units: np.ndarray, values: np.ndarray, n_categories: int, min_others: int = 2) -> np.ndarray:
    """For each value, the majority category among the OTHER values of its unit; −1 when there are fewer than
    `min_others` others (one other annotator is a pair, not a majority) or the others' top categories tie."""
    unit_index, counts = _indexed_counts(units, values, n_categories)
    others = counts[unit_index].copy()
    others[np.arange(len(values)), values] -= 1
    top = others.max(axis=1)
    winner = others.argmax(axis=1)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    return np.where((others.sum(axis=1) >= min_others) & unique_top, winner, -1)


@dataclass(frozen=True)
class SpamRule:
    """Thresholds of the spammer flag; each rule needs enough evidence before it fires."""

    min_gold: int = 5
    gold_accuracy_below: float = 0.5
    min_judgements: int = 20
    agreement_below: float = 0.4
    tie_rate_above: float = 0.9
    left_share_above: float = 0.55
    left_p_below: float = 0.001
    median_lead_ms_below: float = 1500.0

    def reasons(self, *, judgements: int, gold: int, gold_accuracy: float, agreement: float, tie_rate: float,
                left_share: float, left_p: float, median_lead_ms: float) -> list[str]:
        found = []
        if gold >= self.min_gold and gold_accuracy < self.gold_accuracy_below:
            found.append("low gold accuracy")
        if judgements >= self.min_judgements:
            if not math.isnan(agreement) and agreement < self.agreement_below:
                found.append("disagrees with the others")
            if tie_rate > self.tie_rate_above:
                found.append("ties almost everything")
            if left_share > self.left_share_above and left_p < self.left_p_below:
                found.append("prefers the left side")
            if not math.isnan(median_lead_ms) and median_lead_ms < self.median_lead_ms_below:
                found.append("answers too fast")
        return found
