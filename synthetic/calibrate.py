"""Calibration of the pixel analyser: a map from measured symptoms to defect severities, fitted on rendered
(encoded and decoded) clips whose defects are known.

`python -m synthetic calibrate-analyser` refits it and rewrites `analyser_calibration.json`; the fit is
deterministic per seed. Each dimension's defects are read from that dimension's own symptoms
(FEATURE_GROUPS): a ridge-regularised linear map of each feature, its square root and its square (symptoms
grow sub- or super-linearly with severity), standardised, plus an RBF kernel ridge fitted to what the linear
map leaves (interactions: blur read differently under noise or pixelation).
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from synthetic.defects import DEFECT_NAMES, DEFECTS_BY_DIMENSION, DIMENSIONS, Defects
from synthetic.encode import decode_video, encode_frames
from synthetic.features import extract
from synthetic.generators import GENERATORS
from synthetic.oracle import effective_defects, oracle_utilities
from synthetic.prompts import PromptAttrs, sample_prompts
from synthetic.render import RenderConfig, render_frames, rng_for

logger = logging.getLogger(__name__)

CALIBRATION_PATH = Path(__file__).with_name("analyser_calibration.json")
RIDGE = 1.0
CV_FOLDS = 5

# The symptoms each dimension's defects are read from. A kernel over all ~50 measurements is dominated by
# distances in ones that do not bear on the defect at hand; restricted to a dimension's own (and the
# nuisances that change how they read: noise, pixelation, faint subjects, the background's kind) it gains
# on every dimension (dev set, seed 31337: VQ 0.912 -> 0.920, MQ 0.898 -> 0.923, TA 0.914 -> 0.918).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "VQ": ("coding_ratio", "coding_ratio_high", "coding_zero_gap", "raw_edge_sharpness", "noise_sigma",
           "edge_sharpness", "hf_ratio", "block_spiky", "block_grid_share", "pixel_block", "pixel_dip",
           "subject_chroma", "background_chroma", "luma_p1", "luma_p99", "luma_mean", "texture_std",
           "texture_contrast", "luma_lift", "chroma_contrast", "stripe_share", "gradient_r2",
           "background_mismatch", "tint_shift"),
    "MQ": ("area_cv", "brightness_cv", "duplicates", "jitter", "jitter_robust", "moment2_spread",
           "motion_shortfall", "step_cv", "still_steps", "teleport", "track_still_steps", "integrity_gap",
           "subject_chroma", "chroma_contrast", "noise_sigma", "pixel_block", "edge_sharpness", "extra_subject",
           "count_excess", "count_deficit", "camera_shortfall", "direction_error"),
    "TA": ("hue_error", "shape_own_deficit", "shape_foreign", "shape_error", "integrity_gap", "extra_subject",
           "count_deficit", "count_excess", "background_mismatch", "tint_mismatch", "blueness", "tint_shift",
           "gradient_r2", "stripe_share", "camera_shortfall", "direction_error", "motion_shortfall",
           "subject_chroma", "chroma_contrast", "edge_sharpness", "noise_sigma", "pixel_block",
           "texture_contrast", "background_chroma", "luma_lift", "moment2_spread", "area_cv"),
}
# Per-group map: linear ridge (strong: the kernel takes up what it misses), then exact kernel ridge on the
# residuals, exp(−γ·|Δz|²) over the group's standardised (clipped) features. Chosen on the dev set.
GROUP_RIDGE = 10.0
KERNEL_GAMMA = 0.03
KERNEL_RIDGE = 0.1



def design_matrix(features: np.ndarray) -> np.ndarray:
    return np.concatenate([features, np.sqrt(np.abs(features)), features**2], axis=1)


def _fourier_features(features: np.ndarray, rff: dict) -> np.ndarray:
    """Random Fourier features (an approximate RBF kernel) of calibrations fitted under versions 2 to 4."""
    z = np.clip((features - np.array(rff["mean"])) / np.array(rff["std"]), -6.0, 6.0)
    projection, phase = np.array(rff["projection"]), np.array(rff["phase"])
    return math.sqrt(2.0 / len(phase)) * np.cos(z @ projection + phase)


def _inputs(calibration: dict, features: list[dict[str, float]]) -> np.ndarray:
    raw = np.array([[f[k] for k in calibration["features"]] for f in features])
    x = design_matrix(raw)
    if "rff" in calibration:  # calibrations fitted before version 2 have the polynomial terms only
        x = np.concatenate([x, _fourier_features(raw, calibration["rff"])], axis=1)
    return x


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
    # Severities that cannot show in a prompt's video (oracle.relevant) are targets of 0: nothing measures them.
    y = np.array([effective_defects(d, p).as_array() for p, _, d in clips])
    calibration = {"features": sorted(features[0]), "groups": _fit_groups(features, y)}
    # Measurement noise: the spread of the utility error on clips the map was not fitted on (5-fold
    # cross-validation: the fitting clips' own errors would flatter a flexible map); a difference of two
    # independent errors has √2 of it, and twice that is the tie threshold (≈ 95% of pure-noise gaps).
    held_out = np.empty_like(y)
    fold = np.arange(len(y)) % CV_FOLDS
    for k in range(CV_FOLDS):
        train = [f for f, i in zip(features, fold, strict=True) if i != k]
        test = [f for f, i in zip(features, fold, strict=True) if i == k]
        held_out[fold == k] = _predict_groups(_fit_groups(train, y[fold != k]), test)
    errors = {dim: [] for dim in (*DIMENSIONS, "Overall")}
    for (prompt, _, truth), row in zip(clips, np.clip(held_out, 0.0, 1.0), strict=True):
        true_u, est_u = oracle_utilities(truth, prompt), oracle_utilities(Defects.from_array(row), prompt)
        for dim in errors:
            errors[dim].append(est_u[dim] - true_u[dim])
    calibration["utility_error_std"] = {dim: float(np.std(v)) for dim, v in errors.items()}
    calibration["tie_threshold"] = {dim: float(2.0 * np.sqrt(2.0) * np.std(v)) for dim, v in errors.items()}
    return calibration


def _raw(names: list[str] | tuple[str, ...], features: list[dict[str, float]]) -> np.ndarray:
    return np.array([[f[k] for k in names] for f in features], dtype=np.float64)


def _kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.exp(-gamma * np.maximum(sq, 0.0))


def _fit_groups(features: list[dict[str, float]], y: np.ndarray) -> dict:
    groups = {}
    for dim, names in FEATURE_GROUPS.items():
        cols = [DEFECT_NAMES.index(d) for d in DEFECTS_BY_DIMENSION[dim]]
        raw = _raw(names, features)
        x = design_matrix(raw)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
        z1 = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)
        weights = _ridge(z1, y[:, cols], GROUP_RIDGE)
        residual = y[:, cols] - z1 @ weights
        k_mean, k_std = raw.mean(axis=0), raw.std(axis=0) + 1e-9
        # Rounded as stored, so that the fit and later predictions use the same support points.
        support = np.round(np.clip((raw - k_mean) / k_std, -6.0, 6.0), 5)
        dual = np.linalg.solve(_kernel(support, support, KERNEL_GAMMA) + KERNEL_RIDGE * np.eye(len(support)), residual)
        groups[dim] = {
            "features": list(names), "mean": mean.tolist(), "std": std.tolist(),
            "weights": {d: weights[:, j].tolist() for j, d in enumerate(DEFECTS_BY_DIMENSION[dim])},
            "kernel": {"gamma": KERNEL_GAMMA, "mean": k_mean.tolist(), "std": k_std.tolist(),
                       "support": support.tolist(),
                       "dual": {d: dual[:, j].tolist() for j, d in enumerate(DEFECTS_BY_DIMENSION[dim])}},
        }
    return groups


def _predict_groups(groups: dict, features: list[dict[str, float]]) -> np.ndarray:
    out = np.zeros((len(features), len(DEFECT_NAMES)))
    for dim, group in groups.items():
        defects = DEFECTS_BY_DIMENSION[dim]
        raw = _raw(group["features"], features)
        z = (design_matrix(raw) - np.array(group["mean"])) / np.array(group["std"])
        z1 = np.concatenate([z, np.ones((len(z), 1))], axis=1)
        kern = group["kernel"]
        zk = np.clip((raw - np.array(kern["mean"])) / np.array(kern["std"]), -6.0, 6.0)
        k = _kernel(zk, np.array(kern["support"]), kern["gamma"])
        for d in defects:
            out[:, DEFECT_NAMES.index(d)] = z1 @ np.array(group["weights"][d]) + k @ np.array(kern["dual"][d])
    return out


def _ridge(z1: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Ridge weights for standardised inputs with a trailing constant column (left unpenalised)."""
    penalty = ridge * np.eye(z1.shape[1])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(z1.T @ z1 + penalty, z1.T @ y)


def predict(calibration: dict, features: list[dict[str, float]]) -> list[Defects]:
    if "groups" in calibration:
        raw = _predict_groups(calibration["groups"], features)
    else:  # calibrations fitted before analyser version 5: one linear (+ random Fourier) map of everything
        x = _inputs(calibration, features)
        z = (x - np.array(calibration["mean"])) / np.array(calibration["std"])
        z1 = np.concatenate([z, np.ones((len(z), 1))], axis=1)
        raw = z1 @ np.stack([np.array(calibration["weights"][d]) for d in DEFECT_NAMES], axis=1)
    return [Defects.from_array(row) for row in np.clip(raw, 0.0, 1.0)]


def calibrate(n_clips: int = 2400, seed: int = 1, workers: int = 2, progress: bool = False,
              path: Path = CALIBRATION_PATH) -> dict:
    clips = calibration_clips(n_clips, seed)
    calibration = fit(clips, measure_clips(clips, workers=workers, progress=progress))
    calibration["fitted_on"] = {"n_clips": n_clips, "seed": seed}
    # Compact: the kernel's support points are most of it (one number per line would triple the file).
    path.write_text(json.dumps(calibration, separators=(",", ":")))
    logger.info("analyser calibration written to %s", path)
    return calibration
