"""The evaluation judges by name, built and checked before any sampling (a bad prompt or checkpoint must not cost
the base's samples first):
- "synthetic": the synthetic world's pixel analyser; reads only prompts of the synthetic grammar and square clips;
  a pair ties on a dimension when the difference is within the analyser's measurement noise;
- "reward-model": a trained reward model (`alignment.reward_judge`); any prompt; a pair ties on a dimension when
  the normalised scores differ by at most ε_d = max(floor, the checkpoint's calibrated ε_d).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignment.reward_judge import MIN_TIE_MARGIN

JUDGES = ("synthetic", "reward-model")


def build_judge(name: str, prompts: Sequence[str], clip: tuple[int, int, int], work_dir: Path, *,
                source: str = "the prompts", reward_model: Path | None = None, tie_floor: float = MIN_TIE_MARGIN,
                tie_calibration: Path | None = None, fps: int = 8) -> tuple[Any, dict[str, Any]]:
    """(judge, description for the report) for `prompts` sampled as `clip` = (frames, height, width)."""
    if name == "synthetic":
        from alignment.world.prompt_check import check_synthetic_prompts

        if reward_model is not None or tie_calibration is not None:
            raise ValueError("--reward-model / --tie-calibration belong to --judge reward-model")
        check_synthetic_prompts(prompts, source)
        if clip[1] != clip[2]:
            raise ValueError(f"the synthetic judge needs square clips, got {clip[1]}×{clip[2]}")
        from alignment.world.judge import pixel_judge

        return pixel_judge, {"name": name, "ties": "difference within the pixel analyser's measurement noise"}
    if name == "reward-model":
        from alignment.reward_judge import read_tie_calibration, reward_model_judge, tie_margins

        if reward_model is None:
            raise ValueError("--judge reward-model needs --reward-model DIR (a `python -m rewards train` OUT/model)")
        calibration = read_tie_calibration(tie_calibration) if tie_calibration is not None else None
        margins = tie_margins(calibration, floor=tie_floor)
        judge, _ = reward_model_judge(reward_model, Path(work_dir), margins, fps=fps)
        return judge, {"name": name, "model": str(reward_model), "tie_margins": margins,
                       "tie_calibration": str(tie_calibration) if tie_calibration else None,
                       "ties": "|difference of normalised scores| ≤ tie_margins[dimension]"}
    raise ValueError(f"unknown judge {name!r}; choose one of {', '.join(JUDGES)}")
