"""The synthetic world's pixel analyser as an evaluation judge and as the eyes of simulated annotators.

`synthetic.analyse_frames` recovers the attributes a clip shows and estimates per-dimension utilities (0 best,
lower worse) with a measurement-noise threshold per dimension; this module turns that into the `Judgement` the
evaluation compares, and into the `ShownVideo` a simulated annotator perceives when it labels generated samples.
"""
from __future__ import annotations

import numpy as np

from alignment.evaluate import DIMENSIONS, Judgement

# gate attribute → the analyser's prompt_match key ("direction" is the recovered action: its sense and axis)
GATE_KEYS = {"color": "color", "shape": "shape", "direction": "action"}


def analyse(frames: np.ndarray, prompt: str):  # -> synthetic.Analysis
    from synthetic import analyse_frames

    return analyse_frames(frames, prompt)


def judgement_from_analysis(analysis) -> Judgement:  # analysis: synthetic.Analysis
    return Judgement(
        utilities={d: float(analysis.utilities[d]) for d in DIMENSIONS},
        noise={d: float(analysis.tie_threshold[d]) for d in DIMENSIONS},
        checks={name: bool(analysis.prompt_match[key]) for name, key in GATE_KEYS.items()},
    )


def pixel_judge(frames: np.ndarray, prompt: str) -> Judgement:
    """The evaluation judge of the synthetic world."""
    return judgement_from_analysis(analyse(frames, prompt))
