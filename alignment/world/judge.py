"""The synthetic world's pixel analyser as an evaluation judge and as the eyes of simulated annotators.

`synthetic.analyse_frames` recovers the attributes a clip shows and estimates per-dimension utilities (0 best,
lower worse) with a measurement-noise threshold per dimension; this module turns that into the `Judgement` the
evaluation compares, and is what a simulated annotator perceives when it labels generated samples.

Two work-arounds live here rather than in `synthetic/` (another engineer's module):
- the analyser's calibration (a linear map from measurements to severities, and the tie thresholds) is fitted
  on 64-px, 16-frame clips; the tiny generator makes 40-px, 8-frame clips, so a calibration for the clip
  geometry being judged is fitted with synthetic's own recipe (`calibration_clips`, `measure_clips`, `fit`) and
  cached under var/;
- `synthetic.measure._block_means` indexes past the frame when a re-pixelation block is under one pixel (every
  frame smaller than 43 px); blocks are clamped to one pixel, which changes nothing for larger frames.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np

from alignment.evaluate import DIMENSIONS, Judgement

logger = logging.getLogger(__name__)

# gate attribute → the analyser's prompt_match key ("direction" is the recovered action: its sense and axis)
GATE_KEYS = {"color": "color", "shape": "shape", "direction": "action"}
DEFAULT_CACHE = Path("var/alignment")
CALIBRATION_CLIPS = 1200
_lock = threading.Lock()
_calibrations: dict[tuple[int, int, int], dict] = {}
_patched = False


def _patch_block_means() -> None:
    global _patched
    if _patched:
        return
    from synthetic import measure

    original = measure._block_means

    def block_means(lum: np.ndarray, block: float) -> np.ndarray:
        return original(lum, max(float(block), 1.0))

    measure._block_means = block_means
    _patched = True


def analyser_version() -> int:
    """synthetic's analyser version (0 before it had one): a new analyser measures differently, so refit."""
    import synthetic.analyser

    return int(getattr(synthetic.analyser, "ANALYSER_VERSION", 0))


def calibration_filename(frames: int, size: int, version: int) -> str:
    """The cache file of a refitted calibration: keyed by analyser version, judged geometry and fitting recipe."""
    return f"analyser-calibration-v{version}-{frames}x{size}-n{CALIBRATION_CLIPS}.json"


def calibration_for(frames: int, size: int, cache_dir: Path = DEFAULT_CACHE) -> dict:
    """The analyser calibration for clips of `frames` × `size`², fitted once and cached as JSON."""
    from synthetic.analyser import load_calibration
    from synthetic.render import RenderConfig

    version = analyser_version()
    key = (version, frames, size)
    with _lock:
        if key in _calibrations:
            return _calibrations[key]
        _patch_block_means()
        default = RenderConfig()
        if (frames, size) == (default.frames, default.size):
            _calibrations[key] = load_calibration()
            return _calibrations[key]
        path = Path(cache_dir) / calibration_filename(frames, size, version)
        if path.is_file():
            calibration = json.loads(path.read_text())
        else:
            from synthetic.calibrate import calibration_clips, fit, measure_clips

            logger.info("fitting the analyser calibration for %d×%d² clips (%d clips)", frames, size, CALIBRATION_CLIPS)
            clips = calibration_clips(CALIBRATION_CLIPS, seed=1)
            calibration = fit(clips, measure_clips(clips, RenderConfig(frames=frames, size=size), workers=1))
            calibration["fitted_on"] = {"n_clips": CALIBRATION_CLIPS, "seed": 1, "frames": frames, "size": size,
                                        "analyser_version": version}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(calibration))
        _calibrations[key] = calibration
        return calibration


def analyse(frames: np.ndarray, prompt: str, cache_dir: Path = DEFAULT_CACHE):  # -> synthetic.Analysis
    from synthetic import analyse_frames

    if frames.ndim != 4 or frames.shape[1] != frames.shape[2]:
        raise ValueError(f"the pixel judge needs square uint8 frames [T, S, S, 3], got {frames.shape}")
    return analyse_frames(frames, prompt, calibration=calibration_for(frames.shape[0], frames.shape[1], cache_dir))


def judgement_from_analysis(analysis) -> Judgement:  # analysis: synthetic.Analysis
    return Judgement(
        utilities={d: float(analysis.utilities[d]) for d in DIMENSIONS},
        noise={d: float(analysis.tie_threshold[d]) for d in DIMENSIONS},
        checks={name: bool(analysis.prompt_match[key]) for name, key in GATE_KEYS.items()},
    )


def pixel_judge(frames: np.ndarray, prompt: str) -> Judgement:
    """The evaluation judge of the synthetic world."""
    return judgement_from_analysis(analyse(frames, prompt))
