"""The oracle: true utilities of a video as a fixed function of its defect vector, oracle preferences, and
the accuracy ceiling (with and without ties, REFERENCE.md §4) that no reward model can beat on average.

Utility of dimension d (VQ, MQ, TA) = −Σ weight_k · severity_k over the defects k of that dimension that
are *relevant* to the prompt: `frozen` only when the prompt asks for motion, `stutter` only when something
should move (subject or camera), `wrong_direction` only for an
action with a direction, `ignored_camera` only when the prompt names a camera move; and the subject's own
defects (SUBJECT_DEFECTS) count ×(1 − missing_subject), as a fading subject hides them. A clean video scores
0 on every dimension; Overall = VQ + MQ + TA (the reward model's convention, REFERENCE.md §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthetic.defects import DEFECTS_BY_DIMENSION, DIMENSIONS, Defects
from synthetic.prompts import DIRECTED_ACTIONS, PromptAttrs, as_attrs

WEIGHTS: dict[str, float] = {
    "blur": 1.0, "noise": 1.0, "blockiness": 0.8, "low_contrast": 0.7, "pixelation": 0.9,
    "jitter": 1.0, "stutter": 0.8, "teleport": 1.0, "flicker": 0.9, "frozen": 1.2,
    "wrong_color": 1.2, "wrong_shape": 1.0, "wrong_direction": 1.0, "wrong_count": 0.8, "missing_subject": 1.5,
    "wrong_background": 0.7, "ignored_camera": 0.6,
}
# Defects of the subject itself: they show only as much as the subject does.
SUBJECT_DEFECTS: tuple[str, ...] = (
    "jitter", "teleport", "flicker", "frozen", "wrong_color", "wrong_shape", "wrong_direction", "wrong_count",
)
LABELS: tuple[str, str, str] = ("A", "B", "same")
LABEL_SIGN: dict[str, int] = {"A": 1, "B": -1, "same": 0}


def relevant(defect: str, prompt: PromptAttrs) -> bool:
    """Whether a defect can show (and so counts) in a video of this prompt."""
    if defect == "frozen":
        return prompt.action != "stays still"
    if defect == "stutter":  # repeating a frame of a motionless scene changes nothing
        return prompt.action != "stays still" or prompt.camera is not None
    if defect == "wrong_direction":
        return prompt.action in DIRECTED_ACTIONS
    if defect == "ignored_camera":
        return prompt.camera is not None
    return True


def effective_defects(defects: Defects, prompt: PromptAttrs | str) -> Defects:
    """The defects as they can show in this prompt's video: irrelevant ones set to 0, and those of the
    subject scaled by its visibility (1 − missing_subject): nobody sees a vanished subject jitter."""
    attrs = as_attrs(prompt)
    visible = 1.0 - defects.missing_subject
    values = {}
    for k, v in defects.to_dict().items():
        if not relevant(k, attrs):
            v = 0.0
        elif k in SUBJECT_DEFECTS:
            v *= visible
        values[k] = v
    return Defects(**values)


def oracle_utilities(defects: Defects, prompt: PromptAttrs | str) -> dict[str, float]:
    """True utilities {"VQ", "MQ", "TA", "Overall"}; 0 is perfect, lower is worse."""
    attrs = as_attrs(prompt)
    shown = effective_defects(defects, attrs)
    out = {dim: -sum(WEIGHTS[k] * getattr(shown, k) for k in DEFECTS_BY_DIMENSION[dim]) for dim in DIMENSIONS}
    out["Overall"] = out["VQ"] + out["MQ"] + out["TA"]
    return {k: float(v) + 0.0 for k, v in out.items()}  # + 0.0 turns −0.0 into 0.0


def oracle_preference(utility_a: float, utility_b: float, tie_margin: float = 0.0) -> str:
    """"A", "B" or "same" by the true utilities; differences within `tie_margin` are ties."""
    diff = utility_a - utility_b
    if abs(diff) <= tie_margin:
        return "same"
    return "A" if diff > 0 else "B"


def label_signs(labels: Sequence[str]) -> np.ndarray:
    """A → +1, B → −1, same → 0 (REFERENCE.md §1); anything else is an error here."""
    try:
        return np.array([LABEL_SIGN[label] for label in labels], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of {LABELS}") from exc


@dataclass(frozen=True)
class TieAccuracy:
    accuracy: float
    epsilon: float  # model ties are |margin| <= epsilon; −1 means "no model ties"


def _decided_credit(signs: np.ndarray, margins: np.ndarray) -> np.ndarray:
    """1 where the model names the human's winner, ½ for a zero margin on a decided pair (a coin flip is
    the best an exactly indifferent scorer can do), 0 otherwise."""
    credit = ((signs != 0) & (np.sign(margins) == signs)).astype(np.float64)
    credit[(signs != 0) & (margins == 0)] = 0.5
    return credit


def accuracy_with_ties(signs: np.ndarray, margins: np.ndarray) -> TieAccuracy:
    """Tie-calibrated accuracy: the best (C + Thm) / N over ε ∈ {no ties} ∪ {every observed |margin|}.

    Pairs with the same |margin| switch to "model tie" together, so the result does not depend on order.
    """
    signs, margins = np.asarray(signs), np.asarray(margins, dtype=np.float64)
    n = len(signs)
    if n == 0 or len(margins) != n:
        raise ValueError(f"need equally long, non-empty labels and margins, got {n} and {len(margins)}")
    decided_right = _decided_credit(signs, margins)
    best, best_eps = decided_right.sum() / n, -1.0
    order = np.argsort(np.abs(margins), kind="stable")
    abs_sorted = np.abs(margins)[order]
    # Turning a pair into a model tie gains one if the human tied, loses one if the model was right.
    gains = np.cumsum((signs[order] == 0).astype(np.float64) - decided_right[order])
    last_of_group = np.r_[abs_sorted[1:] != abs_sorted[:-1], True]
    scores = (decided_right.sum() + gains[last_of_group]) / n
    i = int(np.argmax(scores))
    if scores[i] > best:
        best, best_eps = float(scores[i]), float(abs_sorted[last_of_group][i])
    return TieAccuracy(accuracy=float(best), epsilon=best_eps)


def accuracy_without_ties(signs: np.ndarray, margins: np.ndarray) -> float:
    """Over the pairs the human did not tie: the share where the margin's sign matches (a 0 margin: ½)."""
    signs, margins = np.asarray(signs), np.asarray(margins, dtype=np.float64)
    decided = signs != 0
    if not decided.any():
        raise ValueError("accuracy without ties needs at least one non-tied label")
    return float(np.mean(_decided_credit(signs[decided], margins[decided])))


def oracle_accuracy(labels: Sequence[str], utilities_a: Sequence[float], utilities_b: Sequence[float]) -> dict:
    """The ceiling for one dimension: accuracy of scoring with the true utilities against the labels.

    Returns {"with_ties", "epsilon", "without_ties"}. In expectation no scorer beats it, since the
    simulated labels are drawn from the true utility difference alone (a sample can favour another by luck).
    """
    signs = label_signs(labels)
    margins = np.asarray(utilities_a, dtype=np.float64) - np.asarray(utilities_b, dtype=np.float64)
    with_ties = accuracy_with_ties(signs, margins)
    return {"with_ties": with_ties.accuracy, "epsilon": with_ties.epsilon,
            "without_ties": accuracy_without_ties(signs, margins)}
