"""Calibration of the pixel analyser: a ridge-regularised linear map from measured symptoms to defect
severities, fitted on rendered (encoded and decoded) clips whose defects are known.

`python -m synthetic calibrate-analyser` refits it and rewrites `analyser_calibration.json`; the fit is
deterministic per seed. The map's inputs are each feature, its square root and its square (symptoms grow
sub- or super-linearly with severity), standardised.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from synthetic.defects import DEFECT_NAMES, DIMENSIONS, Defects
from synthetic.encode import decode_video, encode_frames
from synthetic.features import extract
from synthetic.generators import GENERATORS
from synthetic.oracle import effective_defects, oracle_utilities
from synthetic.prompts import PromptAttrs, sample_prompts
from synthetic.render import RenderConfig, render_frames, rng_for

logger = logging.getLogger(__name__)

CALIBRATION_PATH = Path(__file__).with_name("analyser_calibration.json")
RIDGE = 1.0


def design_matrix(features: np.ndarray) -> np.ndarray:
    return np.concatenate([features, np.sqrt(np.abs(features)), features**2], axis=1)


def calibration_clips(n: int, seed: int, mix_uniform: float = 0.5) -> list[tuple[PromptAttrs, int, Defects]]:
    """Clips for fitting or validating: generator draws, and (a share `mix_uniform`) sparse uniform defects
    that cover combinations the generators rarely make."""
    prompts = sample_prompts(n, seed)
    rng = rng_for(seed, "calibration")
    generators = list(GENERATORS.values())
    clips = []
    for i, prompt in enumerate(prompts):
        if rng.random() < mix_uniform:
            values = np.where(rng.random(len(DEFECT_NAMES)) < 0.25, rng.random(len(DEFECT_NAMES)), 0.0)
            defects = Defects.from_array(values)
        else:
            defects = generators[i % len(generators)].sample(rng)
        clips.append((prompt, int(rng.integers(2**31)), defects))
    return clips


def _features_job(job: tuple[PromptAttrs, int, Defects, RenderConfig]) -> dict[str, float]:
    prompt, seed, defects, config = job
    frames = decode_video(encode_frames(render_frames(prompt, seed, defects, config), config.fps)).frames
    return extract(frames, prompt).features


def measure_clips(clips: list[tuple[PromptAttrs, int, Defects]], config: RenderConfig | None = None,
                  workers: int = 2, progress: bool = False) -> list[dict[str, float]]:
    config = config or RenderConfig()
    jobs = [(p, s, d, config) for p, s, d in clips]
    if workers <= 1:
        return [_features_job(j) for j in tqdm(jobs, disable=not progress, desc="analyse")]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_features_job, jobs, chunksize=8), total=len(jobs), disable=not progress,
                         desc="analyse"))


def fit(clips: list[tuple[PromptAttrs, int, Defects]], features: list[dict[str, float]]) -> dict:
    names = sorted(features[0])
    x = design_matrix(np.array([[f[k] for k in names] for f in features]))
    # Severities that cannot show in a prompt's video (oracle.relevant) are targets of 0: nothing measures them.
    y = np.array([effective_defects(d, p).as_array() for p, _, d in clips])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    z1 = np.concatenate([z, np.ones((len(z), 1))], axis=1)
    penalty = RIDGE * np.eye(z1.shape[1])
    penalty[-1, -1] = 0.0
    weights = np.linalg.solve(z1.T @ z1 + penalty, z1.T @ y)
    calibration = {"features": names, "mean": mean.tolist(), "std": std.tolist(),
                   "weights": {d: weights[:, j].tolist() for j, d in enumerate(DEFECT_NAMES)}}
    # Measurement noise: the spread of the utility error on the fitting clips; a difference of two
    # independent errors has √2 of it, and twice that is the tie threshold (≈ 95% of pure-noise gaps).
    predicted = predict(calibration, features)
    errors = {dim: [] for dim in (*DIMENSIONS, "Overall")}
    for (prompt, _, truth), estimate in zip(clips, predicted, strict=True):
        true_u, est_u = oracle_utilities(truth, prompt), oracle_utilities(estimate, prompt)
        for dim in errors:
            errors[dim].append(est_u[dim] - true_u[dim])
    calibration["utility_error_std"] = {dim: float(np.std(v)) for dim, v in errors.items()}
    calibration["tie_threshold"] = {dim: float(2.0 * np.sqrt(2.0) * np.std(v)) for dim, v in errors.items()}
    return calibration


def predict(calibration: dict, features: list[dict[str, float]]) -> list[Defects]:
    names = calibration["features"]
    x = design_matrix(np.array([[f[k] for k in names] for f in features]))
    z = (x - np.array(calibration["mean"])) / np.array(calibration["std"])
    z1 = np.concatenate([z, np.ones((len(z), 1))], axis=1)
    w = np.stack([np.array(calibration["weights"][d]) for d in DEFECT_NAMES], axis=1)
    return [Defects.from_array(row) for row in np.clip(z1 @ w, 0.0, 1.0)]


def calibrate(n_clips: int = 1200, seed: int = 1, workers: int = 2, progress: bool = False,
              path: Path = CALIBRATION_PATH) -> dict:
    clips = calibration_clips(n_clips, seed)
    calibration = fit(clips, measure_clips(clips, workers=workers, progress=progress))
    calibration["fitted_on"] = {"n_clips": n_clips, "seed": seed}
    path.write_text(json.dumps(calibration, indent=1))
    logger.info("analyser calibration written to %s", path)
    return calibration
