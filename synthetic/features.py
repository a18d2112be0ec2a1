"""Feature extraction for the pixel analyser: recovered attributes and one number per defect symptom.

`extract(frames, prompt)` measures a clip (T×H×W×3 uint8) against a prompt: the attributes it shows
(colour, shape, count, action, background, tint, camera) and raw symptom statistics; `synthetic.analyser`
turns the statistics into defect severities with a calibrated map (`synthetic.calibrate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthetic import measure
from synthetic.prompts import CAMERAS, PromptAttrs
from synthetic.render import (
    BOUNCE_HEIGHT,
    CAMERA_DISTANCE,
    CAMERA_OFFSET,
    GROW_RANGE,
    MOVE_ANGLE,
    MOVE_DISTANCE,
    PALETTE_HUES,
    STRIPE_PERIOD,
    SYMMETRY,
    reversal_profile,
)

# A clean shape's own angular harmonic (3-, 4- or 5-fold): (magnitude at infinite resolution, blur variance
# in px²); at area-equivalent radius r px it is scaled by exp(−k²·var / (2 r²)). Fitted on clean encoded clips
# (the analyser's 0.8 px smoothing plus the codec's halved chroma resolution).
SHAPE_HARMONIC: dict[str, tuple[float, float]] = {
    "square": (0.254, 1.185), "triangle": (0.544, 1.597), "star": (0.605, 1.325),
}
# Clean clips' background statistics (measured on encoded clips): luma std of each pattern and tint (after
# the analyser's smoothing), mean luma and peak subject chroma per tint. Low contrast scales the first and
# the last by (1 − 0.65·s) and lifts the mean towards grey.
TEXTURE_STD: dict[tuple[str, str], float] = {
    ("gradient", "day"): 0.1148, ("gradient", "night"): 0.0572, ("striped", "day"): 0.1294,
    ("striped", "night"): 0.0636, ("noisy", "day"): 0.0894, ("noisy", "night"): 0.0444,
}
MEAN_LUMA: dict[str, float] = {"day": 0.567, "night": 0.188}
SUBJECT_CHROMA: dict[str, float] = {"day": 0.782, "night": 0.70}


# For recovering the shape: a typical harmonic vector of each shape.
SHAPE_HARMONICS: dict[str, np.ndarray] = {
    "circle": np.array([0.0, 0.0, 0.0]),
    "square": np.array([0.0, 0.25, 0.0]),
    "triangle": np.array([0.48, 0.0, 0.0]),
    "star": np.array([0.0, 0.0, 0.49]),
}
# Solidity against an equal-moment disc of defect-free subjects (measured).
SHAPE_INTEGRITY: dict[str, float] = {"circle": 0.94, "square": 0.9, "triangle": 0.79, "star": 0.77}
# Per-subject area (fraction of the frame) of a defect-free subject, by count (measured ≈ π r² scaled).
ROTATION_SHARE = 0.8  # of one symmetry period over a clip, as rendered


@dataclass
class Extracted:
    attributes: dict[str, object]
    features: dict[str, float]
    subject_area: float
    shape_integrity: float
    background_cleanliness: float


def nearest_color(hue: float) -> str:
    if math.isnan(hue):
        return "none"
    return min(PALETTE_HUES, key=lambda c: measure.circular_distance_degrees(hue, PALETTE_HUES[c]))


def nearest_shape(harmonics: np.ndarray) -> str:
    """The dominant symmetry among 3, 4, 5-fold; a circle when none stands out (small shapes blur theirs)."""
    if harmonics.max() < 0.08:
        return "circle"
    return ("triangle", "square", "star")[int(np.argmax(harmonics))]


def classify_background(bg: measure.BackgroundMeasure, noise_sigma: float) -> tuple[str, str]:
    tint = "night" if bg.blueness > 0.02 else "day"
    if bg.stripe_share > 0.3:
        pattern = "striped"
    elif bg.gradient_r2 > 0.7 and bg.texture_std > 0.03:
        pattern = "gradient"
    elif bg.texture_std < 0.012 + 0.3 * noise_sigma:
        pattern = "plain"
    else:
        pattern = "noisy"
    return pattern, tint


def _basis(tau: np.ndarray) -> np.ndarray:
    """Smooth motion: a quadratic plus a bounce profile."""
    return np.stack([np.ones_like(tau), tau, tau**2, np.abs(np.sin(2 * math.pi * tau))], axis=1)


def fit_motion(tau: np.ndarray, track: np.ndarray, groups: int) -> dict[str, float]:
    """Fit smooth motion + the best single segment offset (a teleport) to a (n, 2) track.

    Returns the bounce coefficients, the teleport magnitude and the jitter std per subject (the group centre
    averages `groups` independent jitters, hence the √groups).
    """
    n = len(tau)
    out = {"bounce_x": 0.0, "bounce_y": 0.0, "teleport": 0.0, "jitter": 0.0, "jitter_mad": 0.0}
    if n < 6:
        return out
    basis = _basis(tau)
    proj = basis @ np.linalg.pinv(basis)
    resid = track - proj @ track
    best_gain, best = 0.0, None
    for a in range(1, n - 1):
        for b in range(a + 2, min(n, a + n // 2) + 1):
            z = np.zeros(n)
            z[a:b] = 1.0
            zt = z - proj @ z
            denom = zt @ zt
            if denom < 1e-9:
                continue
            gain = float(((zt @ resid) ** 2).sum() / denom)
            if gain > best_gain:
                best_gain, best = gain, (zt, denom)
    if best is not None:
        zt, denom = best
        offset = (zt @ resid) / denom
        out["teleport"] = float(np.linalg.norm(offset))
        resid = resid - np.outer(zt, offset)
    design = np.concatenate([basis, (best[0] if best is not None else np.zeros(n))[:, None]], axis=1)
    coef = np.linalg.lstsq(design, track, rcond=None)[0]
    out["bounce_x"], out["bounce_y"] = float(coef[3, 0]), float(coef[3, 1])
    dof = max(n - 6, 1)
    out["jitter"] = float(math.sqrt((resid**2).sum() / (2 * dof)) * math.sqrt(groups))
    # The same from the median absolute residual: blind to a few frames the smooth model misfits.
    out["jitter_mad"] = float(1.4826 * np.median(np.abs(resid)) * math.sqrt(n / dof) * math.sqrt(groups))
    return out


def _edge_mean(values: np.ndarray, first: bool, k: int = 2) -> np.ndarray:
    valid = np.flatnonzero(~np.isnan(values).reshape(len(values), -1).any(axis=1))
    pick = valid[:k] if first else valid[-k:]
    return np.nanmean(values[pick], axis=0)


def recover_action(shape: str, world: np.ndarray, fit: dict[str, float], rotation: float, area_ratio: float) -> str:
    net = _edge_mean(world, False) - _edge_mean(world, True)
    if shape != "circle" and abs(rotation) > 0.3 * 2 * math.pi / SYMMETRY[shape]:
        return "rotates"
    if area_ratio > 2.0 or area_ratio < 0.5:
        return "grows"
    if -fit["bounce_y"] > 0.12 and np.linalg.norm(net) < 0.12:
        return "bounces"
    if np.linalg.norm(net) > 0.15:
        angle = math.atan2(net[1], net[0])
        return min(MOVE_ANGLE, key=lambda a: abs(math.remainder(angle - MOVE_ANGLE[a], 2 * math.pi)))
    return "stays still"


def recover_camera(camera: np.ndarray, tau: np.ndarray) -> tuple[str | None, np.ndarray]:
    velocity = (tau[:, None] * camera).sum(axis=0) / max((tau**2).sum(), 1e-9)
    if np.linalg.norm(velocity) < 0.4 * CAMERA_DISTANCE:
        return None, velocity
    best = max(CAMERAS, key=lambda c: float(np.dot(velocity, CAMERA_OFFSET[c])))
    return best, velocity


def extract(frames_u8: np.ndarray, prompt: PromptAttrs) -> Extracted:
    if frames_u8.ndim != 4 or frames_u8.shape[-1] != 3 or frames_u8.shape[0] < 2:
        raise ValueError(f"frames must be (T>=2, H, W, 3), got {frames_u8.shape}")
    frames = frames_u8.astype(np.float32) / 255.0
    t, h, w, _ = frames.shape
    tau = np.linspace(0.0, 1.0, t)
    sigma = measure.noise_sigma(frames)
    sub = measure.measure_subject(frames, prompt.count)
    # Faint subjects (a half-transparent extra one) are no background either: on a plain wall they would pass
    # for texture, and the camera tracker would follow them.
    not_background = (sub.alpha > 0.12) | measure.off_background_colour(frames)
    bg = measure.measure_background(frames, not_background, STRIPE_PERIOD)
    pattern, tint = classify_background(bg, sigma)
    camera_track = measure.camera_track(frames, not_background) if pattern == "noisy" else np.zeros((t, 2))
    camera, velocity = recover_camera(camera_track, tau)
    dups = np.r_[False, measure.duplicate_frames(frames, sigma)]
    world = sub.centroids - camera_track
    # A repeated frame shows the scene at the time of the frame it repeats (that is what stutter does).
    # In a mostly static clip repeats are just stillness, and collapsing their times would hide jumps.
    shown_tau = tau.copy()
    if dups.mean() < 0.75:
        for k in range(1, t):
            if dups[k]:
                shown_tau[k] = shown_tau[k - 1]
    valid = ~np.isnan(world).any(axis=1)
    groups = max(1, int(np.median(sub.counts))) if sub.counts.any() else 1
    fit = fit_motion(shown_tau[valid], world[valid], groups)
    shape = nearest_shape(sub.harmonics)
    rotation = 0.0
    if shape != "circle":
        k = SYMMETRY[shape]
        col = measure.HARMONICS.index(k)
        phases = sub.orientation[:, col]
        phases = phases[~np.isnan(phases)]
        if len(phases) >= 2:
            rotation = float((np.unwrap(phases)[-1] - np.unwrap(phases)[0]) / k)
    rotation_trace = None
    if prompt.shape != "circle":
        k = SYMMETRY[prompt.shape]
        phases = sub.orientation[:, measure.HARMONICS.index(k)]
        ok = np.isfinite(phases)
        if ok.sum() >= 4:
            rotation_trace = np.full(t, np.nan)
            rotation_trace[ok] = np.unwrap(phases[ok]) / k
    per_subject = sub.areas / np.maximum(sub.counts, 1)
    radius_trace = None
    if (per_subject > 0).sum() >= 4:
        r = np.where(per_subject > 0, np.sqrt(per_subject), np.nan)
        radius_trace = r / np.nanmean(r)
    areas = np.where(sub.areas > 0, sub.areas, np.nan)
    area_ratio = 1.0
    if np.isfinite(areas).sum() >= 4:
        area_ratio = float(_edge_mean(areas[:, None], False)[0] / max(_edge_mean(areas[:, None], True)[0], 1e-6))
    has_subject = sub.present > 0.04 and np.isfinite(world).any()
    seen = np.maximum(sub.counts, 1)
    radius_px = float(np.sqrt(np.mean(sub.areas / seen) * h * w / math.pi)) if has_subject else 0.0
    action = recover_action(shape, world, fit, rotation, area_ratio) if has_subject else "stays still"
    count = int(np.median(sub.counts)) if has_subject else 0
    color = nearest_color(sub.hue) if has_subject else "none"

    # --- symptoms relative to the prompt ---
    motion, direction = _motion_vs_prompt(prompt, world if has_subject else None, fit, rotation_trace,
                                          radius_trace, shown_tau)
    expected_cam = np.array(CAMERA_OFFSET[prompt.camera]) * CAMERA_DISTANCE if prompt.camera else None
    camera_follow = float(np.dot(velocity, expected_cam) / CAMERA_DISTANCE**2) if expected_cam is not None else 1.0
    detrended = _detrended_log_cv(sub.areas, tau)
    bright = sub.brightness[np.isfinite(sub.brightness)]
    pixel_block, pixel_dip = measure.pixelation_block(frames, sigma)
    spiky, grid_share = measure.block_profile(frames, pixel_block)
    lum = measure.luma(frames)
    coding_all, coding_high, coding_zeros = measure.block_coding_ratio(frames, sigma)
    steps = measure.frame_steps(frames)
    features = {
        "coding_ratio": coding_all,
        "coding_ratio_high": coding_high,
        "coding_zero_gap": coding_zeros,
        "raw_edge_sharpness": measure.raw_edge_sharpness(frames, sub.mask, sub.present),
        "still_steps": float((steps < 0.2 * max(np.percentile(steps, 75), 1e-6)).mean()),
        "step_cv": float(steps.std() / max(steps.mean(), 1e-6)),
        "track_still_steps": _track_still_steps(world if has_subject else None, w),
        "jitter_robust": fit["jitter_mad"],
        "moment2_spread": _moment2_spread(sub.moment2),
        "noise_sigma": sigma,
        "edge_sharpness": measure.edge_sharpness(sub.alpha, sub.mask),
        "hf_ratio": measure.high_frequency_ratio(frames, sigma),
        "block_spiky": spiky,
        "block_grid_share": math.log(float(np.clip(grid_share, 0.05, 50.0))),
        "pixel_block": (pixel_block - 1.0) / 7.0,
        "pixel_dip": pixel_dip,
        "subject_chroma": sub.present,
        "background_chroma": sub.background_chroma,
        "luma_p1": float(np.percentile(lum, 1)),
        "luma_p99": float(np.percentile(lum, 99)),
        "luma_mean": float(lum.mean()),
        "texture_std": bg.texture_std,
        "texture_contrast": bg.texture_std / TEXTURE_STD[(prompt.background, prompt.tint)]
        if prompt.background != "plain" else 1.0,
        "luma_lift": (bg.mean_luma - MEAN_LUMA[prompt.tint]) / (0.07 if prompt.tint == "day" else 0.33),
        "chroma_contrast": sub.present / SUBJECT_CHROMA[prompt.tint],
        "duplicates": float(dups.mean() * t / max(t - 1, 1)),
        "jitter": fit["jitter"],
        "teleport": fit["teleport"],
        "area_cv": detrended,
        "brightness_cv": float(bright.std() / max(bright.mean(), 1e-6)) if len(bright) > 1 else 0.0,
        "integrity_gap": max(0.0, SHAPE_INTEGRITY[prompt.shape] - sub.integrity),
        "motion_shortfall": float(np.clip(1.0 - motion, 0.0, 1.0)),
        "direction_error": direction,
        "hue_error": measure.circular_distance_degrees(sub.hue, PALETTE_HUES[prompt.color]) / 180.0
        if not math.isnan(sub.hue) else 1.0,
        "shape_own_deficit": _own_deficit(sub.harmonics, prompt.shape, radius_px),
        "shape_foreign": _foreign(sub.harmonics, prompt.shape),
        "shape_error": _own_deficit(sub.harmonics, prompt.shape, radius_px) + _foreign(sub.harmonics, prompt.shape),
        "extra_subject": sub.extra_strength,
        "count_deficit": float(max(0, prompt.count - count)),
        "count_excess": float(max(0, count - prompt.count)),
        "background_mismatch": float(pattern != prompt.background),
        "tint_mismatch": float(tint != prompt.tint),
        "blueness": bg.blueness * (1.0 if prompt.tint == "night" else -1.0),
        # 0 at the prompted tint, 1 at the other one (a clean night background has B − R ≈ 0.08).
        "tint_shift": bg.blueness / 0.08 if prompt.tint == "day" else 1.0 - bg.blueness / 0.08,
        "gradient_r2": bg.gradient_r2,
        "stripe_share": bg.stripe_share,
        "camera_shortfall": float(np.clip(1.0 - camera_follow, 0.0, 1.5)),
    }
    return Extracted(
        attributes={"color": color, "shape": shape if has_subject else "none", "count": count, "action": action,
                    "background": pattern, "tint": tint, "camera": camera},
        features=features,
        subject_area=float(np.nanmean(sub.areas)) if has_subject else 0.0,
        shape_integrity=sub.integrity,
        background_cleanliness=1.0 - bg.chroma_share,
    )


def _own_deficit(harmonics: np.ndarray, shape: str, radius_px: float) -> float:
    """How much of the prompted shape's own symmetry is missing (0 for a circle, which has none)."""
    if shape == "circle":
        return 0.0
    if radius_px <= 1.0:
        return 1.0
    k = SYMMETRY[shape]
    magnitude, variance = SHAPE_HARMONIC[shape]
    expected = magnitude * math.exp(-k * k * variance / (2.0 * radius_px**2))
    return float(np.clip(1.0 - harmonics[measure.HARMONICS.index(k)] / expected, 0.0, 1.0))


def _foreign(harmonics: np.ndarray, shape: str) -> float:
    """The strongest symmetry the prompted shape should not have, relative to a clean shape's."""
    own = measure.HARMONICS.index(SYMMETRY[shape]) if shape != "circle" else -1
    others = [harmonics[i] / 0.48 for i in range(len(measure.HARMONICS)) if i != own]
    return float(max(others))


def _detrended_log_cv(areas: np.ndarray, tau: np.ndarray) -> float:
    ok = areas > 0
    if ok.sum() < 4:
        return 0.0
    y = np.log(areas[ok])
    coef = np.polyfit(tau[ok], y, 1)
    return float((y - np.polyval(coef, tau[ok])).std())


def _motion_vs_prompt(prompt: PromptAttrs, world: np.ndarray | None, fit: dict[str, float],
                      rotation_trace: np.ndarray | None, radius_trace: np.ndarray | None,
                      tau: np.ndarray) -> tuple[float, float]:
    """(amount of the prompted motion seen, 1 = as prompted; direction error in [0, 1])."""
    if prompt.action == "stays still":
        return 1.0, 0.0
    if world is None:
        return 0.0, 0.0
    if prompt.action in MOVE_ANGLE:
        net = _edge_mean(world, False) - _edge_mean(world, True)
        expected = MOVE_ANGLE[prompt.action]
        amount = float(np.linalg.norm(net) / MOVE_DISTANCE)
        error = abs(math.remainder(math.atan2(net[1], net[0]) - expected, 2 * math.pi)) / math.pi
        return amount, error * min(1.0, amount / 0.2)
    if prompt.action == "bounces":
        vec = np.array([fit["bounce_x"], fit["bounce_y"]])
        amount = float(np.linalg.norm(vec) / BOUNCE_HEIGHT)
        error = abs(math.atan2(abs(vec[0]), -vec[1])) / (math.pi / 2)
        return amount, min(1.0, error) * min(1.0, amount / 0.2)
    if prompt.action == "rotates":
        trace, full = rotation_trace, ROTATION_SHARE * 2 * math.pi / SYMMETRY[prompt.shape]
    else:  # grows: radius relative to its mean
        trace, full = radius_trace, GROW_RANGE
    return fit_reversal(tau, trace, full)


def fit_reversal(tau: np.ndarray, trace: np.ndarray | None, full: float) -> tuple[float, float]:
    """Fit trace ≈ a + b·reversal_profile(τ, w) over a grid of w: (b / full, w)."""
    if trace is None:
        return 0.0, 0.0
    ok = np.isfinite(trace)
    if ok.sum() < 4:
        return 0.0, 0.0
    best = (float("inf"), 0.0, 0.0)
    for w in np.linspace(0.0, 1.0, 21):
        g = reversal_profile(tau[ok], w)
        design = np.stack([np.ones_like(g), g], axis=1)
        coef, *_ = np.linalg.lstsq(design, trace[ok], rcond=None)
        sse = float(((design @ coef - trace[ok]) ** 2).sum())
        if sse < best[0] - 1e-12:
            best = (sse, float(coef[1]), float(w))
    _, slope, w = best
    if slope < 0:  # running backwards all along reads as forward with the sense reversed
        slope, w = -slope, 1.0
    return slope / full, w


def _track_still_steps(world: np.ndarray | None, width: int) -> float:
    """Share of frames in which a moving subject does not move (held frames of a stutter)."""
    if world is None:
        return 0.0
    steps = np.linalg.norm(np.diff(world, axis=0), axis=1) * width
    steps = steps[np.isfinite(steps)]
    # The moving frames' step, from the upper quartile: held frames may be most of them.
    if len(steps) < 4 or np.percentile(steps, 75) < 0.3:
        return 0.0
    return float((steps < 0.15).mean())


def _moment2_spread(moment2: np.ndarray) -> float:
    """Frame-to-frame spread of the 2-fold moment: per-frame outline deformation (flicker)."""
    m = moment2[np.isfinite(moment2)]
    if len(m) < 4:
        return 0.0
    return float(np.sqrt(np.mean(np.abs(m - m.mean()) ** 2)))
