"""The defect vector: what is wrong with a synthetic video, each severity in [0, 1].

Defects are grouped by the dimension they hurt, like the annotation guideline (REFERENCE.md §1): visual
quality (static, per-frame), motion quality (the dynamic process) and text alignment (prompt match). Each
maps to the platform's default checklist key it shows up as.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

VQ_DEFECTS: tuple[str, ...] = ("blur", "noise", "blockiness", "low_contrast", "pixelation")
MQ_DEFECTS: tuple[str, ...] = ("jitter", "stutter", "teleport", "flicker", "frozen")
TA_DEFECTS: tuple[str, ...] = (
    "wrong_color", "wrong_shape", "wrong_direction", "wrong_count", "missing_subject", "wrong_background",
    "ignored_camera",
)
DEFECT_NAMES: tuple[str, ...] = VQ_DEFECTS + MQ_DEFECTS + TA_DEFECTS
DIMENSIONS: tuple[str, ...] = ("VQ", "MQ", "TA")
DEFECTS_BY_DIMENSION: dict[str, tuple[str, ...]] = {"VQ": VQ_DEFECTS, "MQ": MQ_DEFECTS, "TA": TA_DEFECTS}
DIMENSION_OF: dict[str, str] = {name: dim for dim, names in DEFECTS_BY_DIMENSION.items() for name in names}

# Which guideline checklist item (platform key) a noticed defect ticks.
CHECKLIST_KEY: dict[str, str] = {
    "blur": "clarity",
    "noise": "clarity",
    "blockiness": "detail_richness",
    "pixelation": "detail_richness",
    "low_contrast": "aesthetic_creativity",
    "jitter": "dynamic_stability",
    "stutter": "dynamic_stability",
    "teleport": "dynamic_reasonableness",
    "flicker": "dynamic_fusion",
    "frozen": "dynamic_degree",
    "wrong_color": "subject_relevance",
    "wrong_shape": "subject_relevance",
    "wrong_count": "subject_relevance",
    "missing_subject": "subject_relevance",
    "wrong_direction": "dynamic_relevance",
    "wrong_background": "environment_relevance",
    "ignored_camera": "camera_relevance",
}


class DefectError(ValueError):
    """A defect name or severity outside the defect vector's domain."""


@dataclass(frozen=True)
class Defects:
    """Severities in [0, 1]; 0 is a clean video. See `synthetic.render` for what each one does to pixels."""

    blur: float = 0.0
    noise: float = 0.0
    blockiness: float = 0.0
    low_contrast: float = 0.0
    pixelation: float = 0.0
    jitter: float = 0.0
    stutter: float = 0.0
    teleport: float = 0.0
    flicker: float = 0.0
    frozen: float = 0.0
    wrong_color: float = 0.0
    wrong_shape: float = 0.0
    wrong_direction: float = 0.0
    wrong_count: float = 0.0
    missing_subject: float = 0.0
    wrong_background: float = 0.0
    ignored_camera: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not (0.0 <= float(value) <= 1.0):
                raise DefectError(f"defect {f.name}={value!r} must be a number in [0, 1]")
            object.__setattr__(self, f.name, float(value))

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> Defects:
        unknown = set(values) - set(DEFECT_NAMES)
        if unknown:
            raise DefectError(f"unknown defect name(s) {sorted(unknown)}; known: {DEFECT_NAMES}")
        return cls(**{k: float(v) for k, v in values.items()})

    @classmethod
    def from_array(cls, values: np.ndarray) -> Defects:
        if len(values) != len(DEFECT_NAMES):
            raise DefectError(f"a defect array needs {len(DEFECT_NAMES)} entries, got {len(values)}")
        return cls(**{k: float(np.clip(v, 0.0, 1.0)) for k, v in zip(DEFECT_NAMES, values, strict=True)})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, k) for k in DEFECT_NAMES], dtype=np.float64)

    def group(self, dimension: str) -> dict[str, float]:
        if dimension not in DEFECTS_BY_DIMENSION:
            raise DefectError(f"unknown dimension {dimension!r}; known: {DIMENSIONS}")
        return {k: getattr(self, k) for k in DEFECTS_BY_DIMENSION[dimension]}


# The platform's default guideline checklist keys per dimension (the platform owns labels and help texts).
CHECKLIST_KEYS: dict[str, list[str]] = {
    "VQ": ["image_reasonableness", "clarity", "detail_richness", "aesthetic_creativity", "safety"],
    "MQ": ["dynamic_stability", "dynamic_reasonableness", "motion_aesthetics", "dynamic_fusion", "motion_clarity",
           "dynamic_degree"],
    "TA": ["subject_relevance", "dynamic_relevance", "environment_relevance", "style_relevance", "camera_relevance"],
}
