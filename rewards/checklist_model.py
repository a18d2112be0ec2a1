"""An interpretable checklist reward model (VisionReward style), one per dimension.

Annotators tick checklist items that show a *problem* with a video. For a pair, x = flags_B − flags_A (one
column per item) and P(A ≻ B) = σ(w · x) with w ≥ 0: every ticked problem can only lower a video's score
(score = −w · flags). The weights are fitted by logistic regression on the decided pairs; a negative weight
would say "this problem makes a video better", so the most negative item is dropped and the rest refitted
until all weights are non-negative. The fitted model scores a pair from checklists alone and reports its
accuracy with and without ties like the neural reward model.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from rewards.metrics import accuracy_with_ties, accuracy_without_ties

CHECKLIST_KEYS: dict[str, tuple[str, ...]] = {
    "VQ": ("image_reasonableness", "clarity", "detail_richness", "aesthetic_creativity", "safety"),
    "MQ": ("dynamic_stability", "dynamic_reasonableness", "motion_aesthetics", "dynamic_fusion", "motion_clarity",
           "dynamic_degree"),
    "TA": ("subject_relevance", "dynamic_relevance", "environment_relevance", "style_relevance",
           "camera_relevance"),
}
LABELS = {"A": 1, "B": -1, "same": 0}


class ChecklistFormatError(ValueError):
    """A checklist export line is malformed; the message names the file and line."""


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


def flags_from_keys(ticked: Iterable[str], keys: Sequence[str]) -> np.ndarray:
    ticked = set(ticked)
    return np.array([1.0 if k in ticked else 0.0 for k in keys])


def read_checklist_jsonl(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The platform's JSONL export → per dimension (flags_A (N, K), flags_B (N, K), labels (N,) with NaN).

    Each line: {"labels": {"VQ": "A"|"B"|"same", ...}, "checklist": {"A": {"VQ": [keys]}, "B": {...}}}.
    """
    path = Path(path)
    rows: dict[str, tuple[list, list, list]] = {d: ([], [], []) for d in CHECKLIST_KEYS}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                labels, checklist = item["labels"], item.get("checklist") or {}
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ChecklistFormatError(f"{path}:{number}: not a judgement with labels ({exc})") from exc
            for d, keys in CHECKLIST_KEYS.items():
                unknown = {k for side in ("A", "B") for k in (checklist.get(side) or {}).get(d, [])} - set(keys)
                if unknown:
                    raise ChecklistFormatError(f"{path}:{number}: unknown {d} checklist key(s) {sorted(unknown)}")
                rows[d][0].append(flags_from_keys((checklist.get("A") or {}).get(d, []), keys))
                rows[d][1].append(flags_from_keys((checklist.get("B") or {}).get(d, []), keys))
                rows[d][2].append(LABELS.get(labels.get(d), np.nan))
    return {d: (np.array(a).reshape(-1, len(CHECKLIST_KEYS[d])), np.array(b).reshape(-1, len(CHECKLIST_KEYS[d])),
                np.array(h, dtype=np.float64)) for d, (a, b, h) in rows.items()}
