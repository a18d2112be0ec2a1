"""Side-by-side videos of an evaluation, for eyes: the pretrained sample on the left, the arm's on the right,
same prompt and seed, one mp4 per prompt×seed pair, plus an index (JSON and Markdown) of files, prompts, seeds
and each side's scores."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alignment.evaluate import DIMENSIONS, Judgement
from alignment.video_io import write_video

INDEX_JSON = "index.json"
INDEX_MD = "index.md"


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """uint8 [F, H, 2W, 3]: two videos of one shape next to each other, no gap (so each half is one sample)."""
    if left.shape != right.shape or left.ndim != 4:
        raise ValueError(f"side by side needs two videos of one shape [F, H, W, 3], got {left.shape}, {right.shape}")
    return np.concatenate([left, right], axis=2)


def _side(model: str, judgement: Judgement) -> dict[str, Any]:
    return {"model": model, "scores": {d: judgement.utilities[d] for d in DIMENSIONS}, "video": judgement.video}


def write_side_by_side(out_dir: Path, arm: str, base_frames: np.ndarray, base_j: Sequence[Judgement],
                       arm_frames: np.ndarray, arm_j: Sequence[Judgement], prompts: Sequence[str],
                       seeds: Sequence[int], n: int, fps: int = 8) -> list[dict[str, Any]]:
    """The first `n` prompt×seed pairs as `<out_dir>/<arm>/NNN_sSEED.mp4`; returns their index entries."""
    entries = []
    for i in range(min(n, len(prompts))):
        path = write_video(out_dir / arm / f"{i:03d}_s{seeds[i]}.mp4", side_by_side(base_frames[i], arm_frames[i]),
                           fps=fps)
        entries.append({"arm": arm, "file": str(path.relative_to(out_dir)), "prompt": prompts[i], "seed": seeds[i],
                        "left": _side("pretrained", base_j[i]), "right": _side(arm, arm_j[i])})
    return entries


def write_index(out_dir: Path, entries: Sequence[dict[str, Any]]) -> Path:
    """index.json (every field) and index.md (a table to click through); returns the JSON's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / INDEX_JSON).write_text(json.dumps(list(entries), indent=2))

    def scores(side: dict[str, Any]) -> str:
        return "/".join(f"{side['scores'][d]:.2f}" for d in DIMENSIONS)

    lines = ["# Side by side: pretrained (left) vs arm (right), same prompt and seed", "",
             f"| file | arm | seed | prompt | left {'/'.join(DIMENSIONS)} | right {'/'.join(DIMENSIONS)} |",
             "|---|---|---|---|---|---|"]
    for e in entries:
        prompt = e["prompt"].replace("|", "\\|")
        lines.append(f"| [{e['file']}]({e['file']}) | {e['arm']} | {e['seed']} | {prompt} | {scores(e['left'])} "
                     f"| {scores(e['right'])} |")
    (out_dir / INDEX_MD).write_text("\n".join(lines) + "\n")
    return out_dir / INDEX_JSON
