"""Named generator profiles: a dozen "models" that draw defect vectors from different distributions.

Each profile gives, per defect, the probability that a video has it and the mean severity when it does
(severity ~ Beta with that mean). Strengths and weaknesses cross dimensions (sharp but jittery, smooth but
off-prompt, …) so that no single feature separates the good videos from the bad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.defects import DEFECT_NAMES, Defects

# A little of everything, everywhere: real generators are never perfect, and continuous utilities keep
# exactly-equal pairs (uninformative labels) rare.
BASE_RATE = (0.5, 0.15)
BETA_CONCENTRATION = 5.0


class GeneratorError(ValueError):
    """An unknown generator name or an invalid profile."""


@dataclass(frozen=True)
class GeneratorProfile:
    name: str
    description: str
    rates: dict[str, tuple[float, float]]  # defect -> (probability present, mean severity if present)

    def __post_init__(self) -> None:
        for defect, (p, mean) in self.rates.items():
            if defect not in DEFECT_NAMES:
                raise GeneratorError(f"generator {self.name}: unknown defect {defect!r}")
            if not (0 <= p <= 1 and 0 < mean < 1):
                raise GeneratorError(f"generator {self.name}: bad rate for {defect}: {(p, mean)}")

    def rate(self, defect: str) -> tuple[float, float]:
        return self.rates.get(defect, BASE_RATE)

    def sample(self, rng: np.random.Generator) -> Defects:
        values = {}
        for defect in DEFECT_NAMES:
            p, mean = self.rate(defect)
            present = rng.random() < p
            severity = rng.beta(mean * BETA_CONCENTRATION, (1 - mean) * BETA_CONCENTRATION)
            values[defect] = float(severity) if present else 0.0
        return Defects(**values)


def _profile(name: str, description: str, **rates: tuple[float, float]) -> GeneratorProfile:
    return GeneratorProfile(name=name, description=description, rates=rates)


GENERATORS: dict[str, GeneratorProfile] = {g.name: g for g in (
    _profile("atlas-pro", "good at everything", **{d: (0.05, 0.15) for d in DEFECT_NAMES}),
    _profile("crisp-jitter", "sharp frames, shaky motion", blur=(0.02, 0.1), noise=(0.02, 0.1),
             jitter=(0.7, 0.5), stutter=(0.5, 0.45)),
    _profile("smooth-drift", "clean and smooth, but drifts off the prompt", jitter=(0.02, 0.1),
             wrong_color=(0.45, 0.45), wrong_shape=(0.4, 0.45), wrong_direction=(0.35, 0.6)),
    _profile("soft-focus", "blurry, otherwise faithful", blur=(0.8, 0.55), wrong_color=(0.02, 0.1),
             wrong_shape=(0.02, 0.1)),
    _profile("grainy-faithful", "noisy and blocky pictures of exactly the prompt", noise=(0.7, 0.5),
             blockiness=(0.5, 0.45), wrong_color=(0.02, 0.1), wrong_direction=(0.02, 0.1)),
    _profile("still-life", "sharp, on-prompt subjects that barely move", frozen=(0.7, 0.6), stutter=(0.4, 0.4),
             blur=(0.02, 0.1)),
    _profile("washed-out", "low contrast, low detail", low_contrast=(0.75, 0.55), pixelation=(0.5, 0.45)),
    _profile("shape-shifter", "outlines that wobble and change", flicker=(0.7, 0.55), wrong_shape=(0.4, 0.45)),
    _profile("scene-mixer", "gets the scene wrong", wrong_background=(0.6, 0.6), ignored_camera=(0.6, 0.7),
             wrong_count=(0.4, 0.6)),
    _profile("legacy-gan", "a bit of everything wrong", **{d: (0.35, 0.35) for d in DEFECT_NAMES}),
    _profile("fast-draft", "pixelated, blocky, with jumps", pixelation=(0.6, 0.5), blockiness=(0.5, 0.5),
             teleport=(0.5, 0.55)),
    _profile("vanisher", "fine when the subject is there at all", missing_subject=(0.3, 0.6), noise=(0.02, 0.1)),
)}


def generator_profile(name: str) -> GeneratorProfile:
    if name not in GENERATORS:
        raise GeneratorError(f"unknown generator {name!r}; known: {tuple(GENERATORS)}")
    return GENERATORS[name]
