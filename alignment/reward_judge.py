"""A trained reward model (`rewards.RewardScorer`) as the judge of generated samples, with its tie rule.

Each sample is written as the mp4 an annotator would see and scored like any video, so the judge sees the codec's
artefacts too. Scores are the checkpoint's normalised ones (one validation standard deviation = 1).

Ties: two samples tie on a dimension when their normalised scores differ by at most ε_d, where
ε_d = max(floor, the ε the reward model's tie calibration chose for d). The calibration is the threshold that
maximised accuracy with ties on held-out human judgements (REFERENCE §4; `python -m rewards evaluate` reports it
as `epsilon` per dimension, None when "no model ties" was best). The floor exists because sampling on CPU is not
bitwise reproducible across allocations: a rounding flip moves a reward by ~1e-3, which must not read as a win.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rewards.config import DIMENSIONS  # the reward model's scored dimensions

MIN_TIE_MARGIN = 0.01


def tie_margins(calibration: Mapping[str, Any] | None, floor: float = MIN_TIE_MARGIN) -> dict[str, float]:
    """Per dimension ε_d = max(floor, calibration[d]["epsilon"]); a missing or non-finite ε gives the floor.

    `calibration` is a per-dimension report as `rewards.evaluate` writes it ({"VQ": {"epsilon": 0.3, ...}, ...}).
    """
    if not (floor >= 0 and math.isfinite(floor)):
        raise ValueError(f"the tie floor must be a finite number ≥ 0, got {floor}")
    margins = {}
    for d in DIMENSIONS:
        epsilon = ((calibration or {}).get(d) or {}).get("epsilon")
        calibrated = isinstance(epsilon, int | float) and not isinstance(epsilon, bool) and math.isfinite(epsilon)
        margins[d] = max(floor, float(epsilon)) if calibrated else floor
    return margins


def read_tie_calibration(path: str | Path) -> dict[str, Any]:
    """The per-dimension report in `path`: `rewards evaluate`'s evaluation.json ({"report": …}), a reward run's
    result ({"test": …}) or the report itself."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tie calibration file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from exc
    report = data.get("report", data.get("test", data)) if isinstance(data, dict) else None
    if not isinstance(report, dict) or not any(isinstance(report.get(d), dict) for d in DIMENSIONS):
        raise ValueError(f"{path}: no per-dimension report (expected evaluation.json of `python -m rewards evaluate`)")
    return report


def reward_model_judge(model_dir: str | Path, work_dir: Path, margins: Mapping[str, float], fps: int = 8,
                       tick: Callable[[], None] | None = None, device: str = "cpu") -> tuple[Callable, Any]:
    """(judge, scorer): the judge maps (frames, prompt) to a Judgement with the reward model's normalised scores,
    `margins` as each dimension's tie threshold, and the scored file. Loading happens here, before any sampling,
    so a bad checkpoint fails fast."""
    from alignment.evaluate import Judgement
    from alignment.video_io import write_video
    from rewards.scorer import RewardScorer

    work_dir = Path(work_dir)
    scorer = RewardScorer.from_pretrained(model_dir, device=device, cache_dir=work_dir / "clip-cache")
    work_dir.mkdir(parents=True, exist_ok=True)
    counter = iter(range(10**9))

    def judge(frames, prompt: str) -> Judgement:
        if tick is not None:
            tick()
        path = write_video(work_dir / f"sample-{next(counter):06d}.mp4", frames, fps=fps)
        score = scorer.score([path], [prompt])[0]
        return Judgement(utilities={d: score[d] for d in DIMENSIONS}, noise=dict(margins), checks={},
                         video=str(path))

    return judge, scorer
