"""An interpretable checklist reward model (VisionReward style), one per dimension.

Annotators tick checklist items that show a *problem* with a video. For a pair, x = flags_B − flags_A (one
column per item) and P(A ≻ B) = σ(w · x) with w ≥ 0: every ticked problem can only lower a video's score
(score = −w · flags). The weights are fitted by logistic regression on the decided pairs; a negative weight
would say "this problem makes a video better", so the most negative item is dropped and the rest refitted
until all weights are non-negative. The fitted model scores a pair from checklists alone and reports its
accuracy with and without ties like the neural reward model.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from rewards.checklist_export import ChecklistData
from rewards.metrics import accuracy_with_ties, accuracy_without_ties

# The platform's default guideline items, the keys when a caller passes none (an export brings its own).
CHECKLIST_KEYS: dict[str, tuple[str, ...]] = {
    "VQ": ("image_reasonableness", "clarity", "detail_richness", "aesthetic_creativity", "safety"),
    "MQ": ("dynamic_stability", "dynamic_reasonableness", "motion_aesthetics", "dynamic_fusion", "motion_clarity",
           "dynamic_degree"),
    "TA": ("subject_relevance", "dynamic_relevance", "environment_relevance", "style_relevance",
           "camera_relevance"),
}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-4) -> np.ndarray:
    """Weights w (no intercept: swapping A and B must flip the prediction) minimising mean log loss + l2·|w|²."""

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        loss = -np.mean(y * log_expit(z) + (1 - y) * log_expit(-z)) + l2 * w @ w
        grad = x.T @ (expit(z) - y) / len(y) + 2 * l2 * w
        return float(loss), grad

    return minimize(objective, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x


def fit_nonnegative(x: np.ndarray, y: np.ndarray, l2: float = 1e-4) -> tuple[np.ndarray, list[int]]:
    """Refit after dropping the most negative weight until none is negative; returns (weights, dropped)."""
    active = list(range(x.shape[1]))
    dropped: list[int] = []
    weights = np.zeros(x.shape[1])
    while active:
        w = fit_logistic(x[:, active], y, l2)
        if (w >= 0).all():
            weights[active] = w
            break
        worst = active[int(np.argmin(w))]
        active.remove(worst)
        dropped.append(worst)
    return weights, dropped


@dataclass(frozen=True)
class ChecklistModel:
    dimension: str
    keys: tuple[str, ...]
    weights: tuple[float, ...]
    dropped: tuple[str, ...]

    def video_scores(self, flags: np.ndarray) -> np.ndarray:
        """(N, K) 0/1 problem flags → (N,) scores; fewer (and lighter) problems score higher."""
        return -np.asarray(flags, dtype=np.float64) @ np.asarray(self.weights)

    def margins(self, flags_a: np.ndarray, flags_b: np.ndarray) -> np.ndarray:
        return self.video_scores(flags_a) - self.video_scores(flags_b)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChecklistEvaluation:
    with_ties: float
    epsilon: float | None
    without_ties: float
    n: int


def fit_checklist_model(dimension: str, flags_a: np.ndarray, flags_b: np.ndarray, labels: Sequence[float],
                        keys: Sequence[str] | None = None, l2: float = 1e-4) -> ChecklistModel:
    """Fit from (N, K) flags of both videos and labels +1/−1/0 (ties and NaN are not used for fitting)."""
    keys = tuple(keys if keys is not None else CHECKLIST_KEYS[dimension])
    fa, fb = np.asarray(flags_a, dtype=np.float64), np.asarray(flags_b, dtype=np.float64)
    h = np.asarray(labels, dtype=np.float64)
    if fa.shape != fb.shape or fa.shape[1:] != (len(keys),) or len(h) != len(fa):
        raise ValueError(f"{dimension}: flags must be (N, {len(keys)}) for both videos with N labels; got "
                         f"{fa.shape}, {fb.shape}, {len(h)} labels")
    decided = np.isin(h, (-1.0, 1.0))
    if not decided.any():
        raise ValueError(f"{dimension}: no decided (A or B) pairs to fit")
    weights, dropped = fit_nonnegative(fb[decided] - fa[decided], (h[decided] > 0).astype(np.float64), l2)
    return ChecklistModel(dimension=dimension, keys=keys, weights=tuple(float(w) for w in weights),
                          dropped=tuple(keys[i] for i in dropped))


def evaluate_checklist_model(model: ChecklistModel, flags_a: np.ndarray, flags_b: np.ndarray,
                             labels: Sequence[float]) -> ChecklistEvaluation:
    m = model.margins(flags_a, flags_b)
    tie = accuracy_with_ties(m, labels)
    return ChecklistEvaluation(with_ties=tie.accuracy, epsilon=tie.epsilon,
                               without_ties=accuracy_without_ties(m, labels), n=tie.n)


def checklist_summary(data: Mapping[str, ChecklistData], l2: float = 1e-4) -> dict[str, dict[str, Any]]:
    """Fit and evaluate one model per dimension of an export (see ``rewards.checklist_export``); a dimension
    with nothing to learn from is reported as skipped, with the reason."""
    summary: dict[str, dict[str, Any]] = {}
    for dim, d in data.items():
        if not ((d.labels == 1) | (d.labels == -1)).any():
            summary[dim] = {"skipped": "no decided (A or B) pairs in the export"}
            continue
        if not d.keys:
            summary[dim] = {"skipped": "no checklist item of this dimension is ticked in the export"}
            continue
        model = fit_checklist_model(dim, d.flags_a, d.flags_b, d.labels, keys=d.keys, l2=l2)
        evaluation = evaluate_checklist_model(model, d.flags_a, d.flags_b, d.labels)
        summary[dim] = {"weights": dict(zip(model.keys, model.weights, strict=True)), "dropped": list(model.dropped),
                        "with_ties": evaluation.with_ties, "epsilon": evaluation.epsilon,
                        "without_ties": evaluation.without_ties, "n": evaluation.n}
    return summary
