"""Simulated annotators: BTT labels on the oracle utilities, checklist ticks, MOS and lead times.

Each dimension's label is drawn from the Bradley–Terry-with-ties model (REFERENCE.md §3) on the utility
difference shown left minus right, divided by the annotator's temperature, plus a left-side bias:
d = (u_left − u_right) / temperature + left_bias,
P(left) = σ(d − ln θ), P(right) = σ(−d − ln θ), P(tie) = (θ² − 1) · σ(d − ln θ) · σ(−d − ln θ).
A spammer picks uniformly; a lazy annotator ties everything. The decision is a pure function of the
profile, what is shown (true utilities and defects, as a human would perceive them by watching) and a
random generator, so the HTTP driver and the offline dataset builder share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synthetic.defects import CHECKLIST_KEY, DEFECT_NAMES, DIMENSION_OF, Defects
from synthetic.oracle import relevant
from synthetic.prompts import PromptAttrs

SIDES: tuple[str, str] = ("left", "right")
SIDE_LABELS: tuple[str, str, str] = ("left", "right", "tie")
# Utility at which a video gets MOS 1 in each dimension (0 gets 5); the worst generators reach about this.
MOS_SPAN: dict[str, float] = {"VQ": 2.0, "MQ": 2.0, "TA": 2.0, "Overall": 5.0}


class AnnotatorError(ValueError):
    """An unknown annotator type or invalid profile."""


@dataclass(frozen=True)
class AnnotatorProfile:
    """How one simulated annotator behaves; see ANNOTATOR_TYPES for the named ones."""

    kind: str
    temperature: float = 0.2
    theta: float = 2.5  # BTT tie parameter (> 1): P(tie | equal videos) = (θ − 1) / (θ + 1)
    left_bias: float = 0.0  # added to the scaled difference in favour of the left video
    random_labels: bool = False
    always_tie: bool = False
    miss_rate: float = 0.1
    false_alarm_rate: float = 0.02
    mos_noise: float = 0.4
    lead_time_median_s: float = 25.0
    lead_time_sigma: float = 0.35

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise AnnotatorError(f"annotator temperature must be > 0, got {self.temperature}")
        if self.theta <= 1:
            raise AnnotatorError(f"annotator theta must be > 1, got {self.theta}")
        for name in ("miss_rate", "false_alarm_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise AnnotatorError(f"annotator {name} must be in [0, 1], got {getattr(self, name)}")
        if self.lead_time_median_s <= 0:
            raise AnnotatorError("annotator lead_time_median_s must be > 0")


# The careful annotator's temperature is calibrated on make-dataset's default world so that scoring with
# the true utilities reaches ~85–90% accuracy without ties (benchmarks/synthetic_annotators.py).
CAREFUL_TEMPERATURE = 0.2
ANNOTATOR_TYPES: dict[str, AnnotatorProfile] = {
    "careful": AnnotatorProfile("careful"),
    "noisy": AnnotatorProfile("noisy", temperature=3 * CAREFUL_TEMPERATURE, theta=2.5, miss_rate=0.35,
                              false_alarm_rate=0.08, mos_noise=0.9, lead_time_median_s=12.0),
    "spammer": AnnotatorProfile("spammer", random_labels=True, miss_rate=1.0, false_alarm_rate=0.15,
                                mos_noise=2.0, lead_time_median_s=3.0),
    "left_biased": AnnotatorProfile("left_biased", left_bias=2.0, lead_time_median_s=15.0),
    "lazy": AnnotatorProfile("lazy", always_tie=True, miss_rate=1.0, false_alarm_rate=0.0,
                             mos_noise=0.0, lead_time_median_s=4.0),
}


def annotator_profile(kind: str) -> AnnotatorProfile:
    if kind not in ANNOTATOR_TYPES:
        raise AnnotatorError(f"unknown annotator type {kind!r}; known: {tuple(ANNOTATOR_TYPES)}")
    return ANNOTATOR_TYPES[kind]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def btt_probabilities(d: float, theta: float) -> tuple[float, float, float]:
    """(P(first wins), P(second wins), P(tie)) under Rao–Kupper BTT for a scaled difference d."""
    log_theta = math.log(theta)
    p_first, p_second = _sigmoid(d - log_theta), _sigmoid(-d - log_theta)
    return p_first, p_second, (theta * theta - 1.0) * p_first * p_second


@dataclass(frozen=True)
class ShownVideo:
    """What an annotator perceives of one shown video: its true utilities and defects."""

    utilities: dict[str, float]
    defects: Defects
    prompt: PromptAttrs


@dataclass
class Decision:
    labels: dict[str, str]  # dimension -> "left" | "right" | "tie"
    checklist: dict[str, dict[str, list[str]]]  # side -> dimension -> ticked keys
    mos: dict[str, dict[str, int]] | None
    lead_time_ms: int
    extra: dict[str, object] = field(default_factory=dict)


def draw_label(profile: AnnotatorProfile, u_left: float, u_right: float, rng: np.random.Generator) -> str:
    if profile.always_tie:
        return "tie"
    if profile.random_labels:
        return SIDE_LABELS[int(rng.integers(3))]
    d = (u_left - u_right) / profile.temperature + profile.left_bias
    p_left, p_right, _ = btt_probabilities(d, profile.theta)
    u = rng.random()
    return "left" if u < p_left else ("right" if u < p_left + p_right else "tie")


def notice_probability(severity: float, miss_rate: float) -> float:
    """Below 0.1 a defect goes unseen; from 0.5 up it is seen unless missed."""
    return (1.0 - miss_rate) * float(np.clip((severity - 0.1) / 0.4, 0.0, 1.0))


def tick_checklist(
    profile: AnnotatorProfile, video: ShownVideo, keys: dict[str, list[str]], rng: np.random.Generator,
) -> dict[str, list[str]]:
    """Tick the offered keys (dimension -> keys) that show a problem this annotator notices."""
    ticked: dict[str, list[str]] = {}
    for dim, dim_keys in keys.items():
        chosen = []
        for key in dim_keys:
            p_seen = 1.0
            for name in DEFECT_NAMES:
                if CHECKLIST_KEY[name] == key and DIMENSION_OF[name] == dim and relevant(name, video.prompt):
                    p_seen *= 1.0 - notice_probability(getattr(video.defects, name), profile.miss_rate)
            p_tick = 1.0 - p_seen * (1.0 - profile.false_alarm_rate)
            if rng.random() < p_tick:
                chosen.append(key)
        ticked[dim] = chosen
    return ticked


def draw_mos(profile: AnnotatorProfile, utility: float, dim: str, rng: np.random.Generator) -> int:
    if profile.always_tie:
        return 3
    if profile.random_labels:
        return int(rng.integers(1, 6))
    score = 5.0 + 4.0 * utility / MOS_SPAN[dim] + rng.normal(0.0, profile.mos_noise)
    return int(np.clip(round(score), 1, 5))


def draw_lead_time_ms(profile: AnnotatorProfile, rng: np.random.Generator) -> int:
    seconds = profile.lead_time_median_s * math.exp(rng.normal(0.0, profile.lead_time_sigma))
    return max(500, int(round(seconds * 1000)))


def decide(
    profile: AnnotatorProfile,
    left: ShownVideo,
    right: ShownVideo,
    dimensions: list[str],
    checklist_keys: dict[str, list[str]],
    asks_mos: bool,
    rng: np.random.Generator,
) -> Decision:
    """One annotator's full judgement of a shown pair; left/right as displayed."""
    labels = {dim: draw_label(profile, left.utilities[dim], right.utilities[dim], rng) for dim in dimensions}
    checklist = {side: tick_checklist(profile, video, checklist_keys, rng)
                 for side, video in zip(SIDES, (left, right), strict=True)}
    mos = None
    if asks_mos:
        mos = {side: {dim: draw_mos(profile, video.utilities[dim], dim, rng) for dim in dimensions if dim != "Overall"}
               for side, video in zip(SIDES, (left, right), strict=True)}
    return Decision(labels=labels, checklist=checklist, mos=mos, lead_time_ms=draw_lead_time_ms(profile, rng))


SIDE_TO_AB: dict[str, str] = {"left": "A", "right": "B", "tie": "same"}
