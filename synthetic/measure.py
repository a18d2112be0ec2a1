"""Classical measurements on frames of the synthetic world (T×H×W×3 float in [0, 1]), for the pixel analyser.

Everything here relies on two facts of the world: subjects are saturated colours and backgrounds are
nearly grey, so chroma (max − min over RGB) separates them; and subjects are simple shapes whose
rotational symmetry (3, 4 or 5-fold) shows in the angular harmonics of their mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

_FRAME_ONLY = np.zeros((3, 3, 3), dtype=bool)
_FRAME_ONLY[1] = ndimage.generate_binary_structure(2, 1)
HARMONICS: tuple[int, ...] = (3, 4, 5)


@dataclass
class SubjectMeasure:
    present: float  # peak chroma above the background's (0 when nothing stands out)
    background_chroma: float
    alpha: np.ndarray  # (T, H, W) soft subject coverage in [0, 1]
    mask: np.ndarray  # (T, H, W) bool
    counts: np.ndarray  # (T,) strong components per frame
    extra_strength: float  # strength of the strongest component beyond the strongest `count` ones (0..1)
    centroids: np.ndarray  # (T, 2) group centre (x, y) in normalised units, NaN where nothing is seen
    areas: np.ndarray  # (T,) area of strong components, as a fraction of the frame
    brightness: np.ndarray  # (T,) mean max-channel value of the subject core
    hue: float  # degrees, chroma-weighted circular mean over the subject; NaN if none
    harmonics: np.ndarray  # (3,) median relative magnitude of angular harmonics 3, 4, 5
    orientation: np.ndarray  # (T, 3) phase of harmonics 3, 4, 5 of the largest component
    integrity: float  # median solidity (area / bounding-disc area of the same second moment)
    moment2: np.ndarray  # (T,) complex 2-fold angular moment of the largest component (NaN if none): the
    # world's shapes have 3- to 5-fold symmetry, so it is ~0 unless the outline is deformed


def _channel_max(frames: np.ndarray) -> np.ndarray:
    # Channel by channel: a reduction over the 3-long last axis is many times slower.
    return np.maximum(np.maximum(frames[..., 0], frames[..., 1]), frames[..., 2])


def chroma(frames: np.ndarray) -> np.ndarray:
    low = np.minimum(np.minimum(frames[..., 0], frames[..., 1]), frames[..., 2])
    return (_channel_max(frames) - low).astype(np.float32)


def luma(frames: np.ndarray) -> np.ndarray:
    return (0.299 * frames[..., 0] + 0.587 * frames[..., 1] + 0.114 * frames[..., 2]).astype(np.float32)


def hue_degrees(rgb: np.ndarray) -> np.ndarray:
    """HSV hue in degrees of (..., 3) float RGB."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    c = np.maximum(mx - mn, 1e-6)
    h = np.where(mx == r, ((g - b) / c) % 6.0, np.where(mx == g, (b - r) / c + 2.0, (r - g) / c + 4.0))
    return (60.0 * h) % 360.0


def circular_mean_degrees(angles: np.ndarray, weights: np.ndarray) -> float:
    if weights.sum() <= 0:
        return float("nan")
    rad = np.deg2rad(angles)
    return float(np.rad2deg(math.atan2((weights * np.sin(rad)).sum(), (weights * np.cos(rad)).sum())) % 360.0)


def circular_distance_degrees(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def measure_subject(frames: np.ndarray, expected_count: int) -> SubjectMeasure:
    """Segment the saturated subjects, track their group centre, and describe colour and shape."""
    t, h, w, _ = frames.shape
    c = ndimage.gaussian_filter(chroma(frames), sigma=(0, 0.8, 0.8))
    background = float(np.median(c))
    top = float(np.percentile(c, 99.8))
    present = max(0.0, top - background)
    alpha = np.clip((c - background) / max(present, 1e-3), 0.0, 1.0)
    mask = alpha > 0.45
    # Label faint blobs too, so that a half-transparent extra subject is seen; "strong" ones are counted.
    labels, n = ndimage.label(alpha > 0.12, structure=_FRAME_ONLY)
    counts = np.zeros(t, dtype=np.int64)
    centroids = np.full((t, 2), np.nan)
    areas = np.zeros(t)
    brightness = np.full(t, np.nan)
    orientation = np.full((t, 3), np.nan)
    moment2 = np.full(t, np.nan, dtype=complex)
    harmonic_samples: list[np.ndarray] = []
    integrity: list[float] = []
    extra: list[float] = []
    if n and present > 0.04:
        index = np.arange(1, n + 1)
        sizes = ndimage.sum_labels(np.ones_like(alpha), labels, index)
        peaks = ndimage.maximum(alpha, labels, index)
        slices = ndimage.find_objects(labels)
        frame_of = np.array([s[0].start for s in slices])
        min_size = max(4.0, 0.002 * h * w)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
        vmax = _channel_max(frames)
        for f in range(t):
            ids = np.flatnonzero((frame_of == f) & (sizes >= min_size))
            if not len(ids):
                continue
            strength = peaks[ids]
            order = ids[np.argsort(-strength)]
            strong = [k for k in order if peaks[k] > 0.5 and sizes[k] >= 0.2 * sizes[order[0]]]
            counts[f] = len(strong)
            beyond = np.sort(strength)[::-1][expected_count:]
            extra.append(float(beyond[0]) if len(beyond) else 0.0)
            if not strong:
                continue
            region = np.isin(labels[f], np.array(strong) + 1) & mask[f]
            weight = alpha[f] * ndimage.binary_dilation(region, iterations=2)
            areas[f] = weight.sum() / (h * w)
            centroids[f] = [(weight * xx).sum() / weight.sum() / w, (weight * yy).sum() / weight.sum() / h]
            core = region & (alpha[f] > 0.8)
            if core.any():
                brightness[f] = float(vmax[f][core].mean())
            largest = strong[0]
            comp = alpha[f] * ndimage.binary_dilation((labels[f] == largest + 1) & mask[f], iterations=2)
            m = comp.sum()
            if m >= 12:
                cx, cy = (comp * xx).sum() / m, (comp * yy).sum() / m
                dx, dy = xx - cx, yy - cy
                r2 = dx * dx + dy * dy
                phi = np.arctan2(dy, dx)
                base = (comp * r2).sum()
                mags, phases = [], []
                for k in HARMONICS:
                    z = (comp * r2 * np.exp(1j * k * phi)).sum() / base
                    mags.append(abs(z))
                    phases.append(math.atan2(z.imag, z.real))
                harmonic_samples.append(np.array(mags))
                orientation[f] = phases
                moment2[f] = (comp * r2 * np.exp(2j * phi)).sum() / base
                # Solidity against a disc of the same second moment: a disc gives 1, ragged blobs less.
                integrity.append(float(m / (2.0 * math.pi * base / m)))
    hue = float("nan")
    sel = mask & (alpha > 0.7)
    if sel.any():
        rgb = frames[sel].astype(np.float32)
        hue = circular_mean_degrees(hue_degrees(rgb), chroma(rgb))
    return SubjectMeasure(
        present=present, background_chroma=background, alpha=alpha, mask=mask, counts=counts,
        extra_strength=float(np.median(extra)) if extra else 0.0, centroids=centroids, areas=areas,
        brightness=brightness, hue=hue,
        harmonics=np.median(np.stack(harmonic_samples), axis=0) if harmonic_samples else np.zeros(3),
        orientation=orientation, integrity=float(np.median(integrity)) if integrity else 0.0, moment2=moment2,
    )


@dataclass
class BackgroundMeasure:
    mean_luma: float
    blueness: float  # mean (B − R): night is blue-tinted
    texture_std: float  # std of smoothed luma, subject excluded
    gradient_r2: float  # share of smoothed luma variance explained by a linear function of y
    stripe_share: float  # share of spectral energy at the stripes' frequency
    chroma_share: float  # share of background pixels with subject-like chroma (smears, colour floods)


def measure_background(frames: np.ndarray, subject_mask: np.ndarray, stripe_period: float) -> BackgroundMeasure:
    t, h, w, _ = frames.shape
    keep = ~ndimage.binary_dilation(subject_mask, structure=_FRAME_ONLY, iterations=3)
    lum = luma(frames)
    smooth = ndimage.gaussian_filter(lum, sigma=(0, 1.2, 1.2))
    if keep.sum() < 0.2 * keep.size:
        keep = np.ones_like(keep)
    fill = np.where(keep, smooth, np.median(smooth[keep]))
    values = smooth[keep]
    std = float(values.std())
    yy = np.broadcast_to(np.arange(h, dtype=np.float32)[None, :, None], smooth.shape)[keep]
    slope_fit = np.polyfit(yy, values, 1) if std > 1e-6 else np.zeros(2)
    residual = values - np.polyval(slope_fit, yy)
    r2 = float(1.0 - residual.var() / max(values.var(), 1e-12))
    spectrum = np.abs(np.fft.fft2(fill - fill.mean(axis=(1, 2), keepdims=True))) ** 2
    k = int(round(1.0 / stripe_period))  # stripes along x + y: a peak at (±k, ±k) cycles per frame
    idx = np.fft.fftfreq(h, d=1.0 / h).round().astype(int)
    near = (np.abs(np.abs(idx)[:, None] - k) <= 1) & (np.abs(np.abs(idx)[None, :] - k) <= 1)
    stripe = float(spectrum[:, near].sum() / max(spectrum.sum(), 1e-12))
    rgb = frames[keep].astype(np.float32)
    c = chroma(frames)[keep]
    return BackgroundMeasure(
        mean_luma=float(lum[keep].mean()), blueness=float((rgb[:, 2] - rgb[:, 0]).mean()), texture_std=std,
        gradient_r2=r2, stripe_share=stripe, chroma_share=float((c > 0.3).mean()),
    )


def _shift_costs(ref: np.ndarray, ref_ok: np.ndarray, imgs: np.ndarray, imgs_ok: np.ndarray) -> np.ndarray:
    """Mean squared difference (T, H, W) between each image and `ref` rolled by (dy, dx) = (i, j) mod the
    size, over pixels valid in both; inf where under 20% of the pixels are.

    The world's textures are periodic, so a roll is an exact shift; expanding the square turns every
    shift's sum into circular cross-correlations, all computed at once with FFTs."""
    h, w = ref.shape
    ok_r, ok_i = ref_ok.astype(np.float64), imgs_ok.astype(np.float64)
    img = imgs.astype(np.float64)

    def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # Σ_p a[p − d]·b[p] for every shift d
        return np.fft.irfft2(np.conj(np.fft.rfft2(a)) * np.fft.rfft2(b), s=(h, w))

    count = np.rint(corr(ok_r, ok_i))
    total = corr(ok_r * ref * ref, ok_i) - 2.0 * corr(ok_r * ref, ok_i * img) + corr(ok_r, ok_i * img * img)
    return np.where(count >= 0.2 * h * w, np.maximum(total, 0.0) / np.maximum(count, 1.0), np.inf)


def _parabola(cm: float, c0: float, cp: float) -> float:
    den = cm - 2 * c0 + cp
    if not np.isfinite(den) or den <= 1e-12:
        return 0.0
    return float(np.clip(0.5 * (cm - cp) / den, -0.5, 0.5))


def camera_track(frames: np.ndarray, subject_mask: np.ndarray, max_step: int = 3) -> np.ndarray:
    """Scene displacement (T, 2) in normalised units relative to the first frame, by block matching the
    background (subjects masked out) against frame 0 around the previous frame's shift."""
    t, h, w, _ = frames.shape
    lum = ndimage.gaussian_filter(luma(frames), sigma=(0, 0.7, 0.7))
    ok = ~ndimage.binary_dilation(subject_mask, structure=_FRAME_ONLY, iterations=2)
    costs = _shift_costs(lum[0], ok[0], lum[1:], ok[1:])
    out = np.zeros((t, 2))
    cx, cy = 0, 0
    steps = np.arange(-max_step, max_step + 1)
    for f in range(1, t):
        cost = costs[f - 1]
        near = cost[np.ix_((cy + steps) % h, (cx + steps) % w)]
        iy, ix = np.unravel_index(int(np.argmin(near)), near.shape)
        bx, by, c0 = cx + int(steps[ix]), cy + int(steps[iy]), float(near[iy, ix])
        if not np.isfinite(c0):
            out[f] = out[f - 1]
            continue
        fx = bx + _parabola(cost[by % h, (bx - 1) % w], c0, cost[by % h, (bx + 1) % w])
        fy = by + _parabola(cost[(by - 1) % h, bx % w], c0, cost[(by + 1) % h, bx % w])
        cx, cy = bx, by
        out[f] = fx / w, fy / h
    return out


def noise_sigma(frames: np.ndarray) -> float:
    """Robust per-pixel noise std of luma from the 4-neighbour Laplacian (σ·√20 for white noise)."""
    lum = luma(frames)
    lap = (4 * lum[:, 1:-1, 1:-1] - lum[:, :-2, 1:-1] - lum[:, 2:, 1:-1] - lum[:, 1:-1, :-2] - lum[:, 1:-1, 2:])
    return float(1.4826 * np.median(np.abs(lap)) / math.sqrt(20.0))


def edge_sharpness(alpha: np.ndarray, mask: np.ndarray) -> float:
    """Mean steepest slope of the subject's coverage across its outline (≈1 for a crisp anti-aliased edge)."""
    gy, gx = np.gradient(alpha, axis=(1, 2))
    grad = np.hypot(gx, gy)
    ring = ndimage.binary_dilation(mask, structure=_FRAME_ONLY, iterations=2) & ~ndimage.binary_erosion(
        mask, structure=_FRAME_ONLY, iterations=2)
    if ring.sum() < 8:
        return 0.0
    return float(np.percentile(grad[ring], 90))


def block_profile(frames: np.ndarray, pixel_block: float = 1.0) -> tuple[float, float]:
    """(spikiness of the column/row profile of |first differences|, its ratio at 8-px block edges).

    Pixelation and block coding put differences on a fixed grid, which averaging over rows and frames keeps.
    Positions on a detected pixelation grid (`pixel_block` px at 64 px) are left out of the ratio: there
    the differences come from the pixel blocks, not from 8×8 coding blocks."""
    lum = luma(frames)
    dx = np.abs(np.diff(lum, axis=2)).mean(axis=(0, 1))
    dy = np.abs(np.diff(lum, axis=1)).mean(axis=(0, 2))
    prof = np.concatenate([dx, dy])
    spiky = float(prof.std() / max(prof.mean(), 1e-9))
    phase = np.concatenate([np.arange(len(dx)) % 8, np.arange(len(dy)) % 8])
    usable = np.ones(len(prof), dtype=bool)
    if pixel_block > 1.0:
        size = lum.shape[1]
        ids = (np.arange(size) / (pixel_block * size / 64.0)).astype(np.int64)
        on_grid = np.diff(ids) > 0
        usable = ~np.concatenate([on_grid, on_grid[: len(dy)]])
    edge, beside = usable & (phase == 7), usable & ((phase == 6) | (phase == 0))
    if not edge.any() or not beside.any():
        return spiky, 1.0
    ratio = float(prof[edge].mean() / max(prof[beside].mean(), 1e-4))
    return spiky, ratio


def high_frequency_ratio(frames: np.ndarray, sigma_noise: float) -> float:
    """Share of (noise-corrected) luma spectral power above a quarter of the sampling rate."""
    lum = luma(frames)
    t, h, w = lum.shape
    spec = np.abs(np.fft.fft2(lum - lum.mean(axis=(1, 2), keepdims=True))) ** 2 / (h * w)
    spec = spec.mean(axis=0)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    radius = np.hypot(fx, fy)
    high = np.clip(spec[radius > 0.25] - sigma_noise**2, 0, None).sum()
    mid = spec[(radius > 0.03) & (radius <= 0.25)].sum()
    return float(high / max(mid + high, 1e-12))


def duplicate_frames(frames: np.ndarray, sigma_noise: float) -> np.ndarray:
    """(T−1,) True where a frame repeats the previous one up to noise: (almost) no pixel changes by more
    than the smoothed noise could explain."""
    smooth = ndimage.gaussian_filter(frames, sigma=(0, 1.0, 1.0, 0))
    diff = _channel_max(np.abs(np.diff(smooth, axis=0)))
    # Gaussian smoothing with σ=1 px leaves 1/(2√π) of white noise's std; a frame difference has √2 of it.
    threshold = 0.03 + 5.0 * math.sqrt(2.0) * sigma_noise / (2.0 * math.sqrt(math.pi))
    changed = (diff > threshold).sum(axis=(1, 2))
    return changed < max(2, int(0.0005 * diff[0].size))


def _block_means(lum: np.ndarray, block: float) -> np.ndarray:
    # A block under one pixel (re-pixelating frames under 43 px at 1.5 px per 64) would index past the frame.
    block = max(float(block), 1.0)
    size = lum.shape[1]
    ids = (np.arange(size) / block).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(ids) > 0])
    counts = np.diff(np.r_[starts, size])
    sums = np.add.reduceat(np.add.reduceat(lum, starts, axis=1), starts, axis=2)
    means = sums / (counts[None, :, None] * counts[None, None, :])
    return means[:, ids][:, :, ids]


def _block_residuals(lum: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Mean squared difference (T, len(blocks)) between each frame and its re-pixelation by each block size
    (as `_block_means`): Σ lum² − Σ over blocks of (block sum)² / (block size), block sums from integral
    images, so each size costs its number of blocks rather than a pass over the frames."""
    t, size = lum.shape[0], lum.shape[1]
    x = lum.astype(np.float64)
    integral = np.zeros((t, size + 1, size + 1))
    integral[:, 1:, 1:] = x.cumsum(axis=1).cumsum(axis=2)
    total_sq = (x * x).sum(axis=(1, 2))
    out = np.empty((t, len(blocks)))
    for k, block in enumerate(blocks):
        ids = (np.arange(size) / max(float(block), 1.0)).astype(np.int64)
        edges = np.r_[np.flatnonzero(np.r_[True, np.diff(ids) > 0]), size]
        corners = integral[:, edges][:, :, edges]
        sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
        counts = np.diff(edges)
        out[:, k] = total_sq - (sums * sums / (counts[:, None] * counts[None, :])).sum(axis=(1, 2))
    return np.maximum(out, 0.0) / (size * size)


PIXEL_BLOCKS: np.ndarray = np.arange(1.5, 8.01, 0.25)


def pixelation_block(frames: np.ndarray, sigma_noise: float = 0.0) -> tuple[float, float]:
    """(block size in px at 64 px, dip depth) of the pixel grid that best explains the frames.

    Re-pixelating with the true block (grid anchored at the origin) changes nothing but the noise added
    after it, so its noise-corrected residual dips below those of neighbouring block sizes; the largest
    such size wins (its divisors dip too). (1, 0) when no size stands out."""
    lum = luma(frames)
    scale = lum.shape[1] / 64.0
    if lum.shape[1] != lum.shape[2]:
        return 1.0, 0.0
    # Per frame: a real grid dips in every frame, a chance alignment with a moving edge in few.
    resid = _block_residuals(lum, PIXEL_BLOCKS * scale)
    # Averaging b² pixels removes (1 − 1/b²) of the per-pixel noise variance (luma noise ≈ 0.6 σ per channel).
    resid = np.maximum(resid - (0.6 * sigma_noise) ** 2 * (1.0 - 1.0 / (PIXEL_BLOCKS * scale) ** 2), 0.0)
    padded = np.concatenate([resid[:, :1] * 0.5, resid, resid[:, -1:] * 2.0], axis=1)
    neighbours = 0.5 * (padded[:, :-2] + padded[:, 2:])
    depth = np.median(1.0 - resid / np.maximum(neighbours, 1e-12), axis=0)
    if depth.max() < 0.45:
        return 1.0, 0.0
    best = int(np.flatnonzero(depth >= 0.9 * depth.max())[-1])
    return float(PIXEL_BLOCKS[best]), float(depth[best])


def block_coding_ratio(frames: np.ndarray, sigma_noise: float) -> tuple[float, float, float]:
    """Block coding seen on the 8×8 grid: log ratios of DCT energy on the coding grid to that on a grid
    shifted by 4 px, over all AC coefficients and over the high ones (u + v ≥ 4), noise energy removed
    from both; and how many more of the high coefficients (u + v ≥ 3) of busy blocks are ~0 on the coding
    grid than on the shifted one.

    Quantising 8×8 DCT coefficients zeroes the small ones and removes detail inside the coding grid's
    blocks, leaving steps at their edges, which the shifted grid's blocks straddle."""
    lum = luma(frames) * 255.0
    t, h, w = lum.shape
    nb_y, nb_x = h // 8 - 1, w // 8 - 1
    if nb_y < 1 or nb_x < 1:
        return 0.0, 0.0, 0.0
    from scipy import fft as sfft

    u = np.arange(8)
    order = (u[:, None] + u[None, :])[None, None, :, None, :]
    zero = 1.0 + 2.0 * 255.0 * sigma_noise  # below this a coefficient is noise around 0

    def energies(offset: int) -> tuple[float, float, float]:
        window = lum[:, offset:offset + 8 * nb_y, offset:offset + 8 * nb_x]
        coeff = sfft.dctn(window.reshape(t, nb_y, 8, nb_x, 8), axes=(2, 4), norm="ortho")
        power = coeff**2
        busy = np.abs(coeff).max(axis=(2, 4)) > 5.0 + zero  # blocks with some detail to quantise
        zeros = ((np.abs(coeff) < zero) & (order >= 3)).sum(axis=(2, 4)) / float((order >= 3).sum())
        return (float(power[np.broadcast_to(order > 0, power.shape)].mean()),
                float(power[np.broadcast_to(order >= 4, power.shape)].mean()),
                float(zeros[busy].mean()) if busy.any() else 0.0)

    aligned, shifted = energies(0), energies(4)
    noise = (255.0 * sigma_noise) ** 2  # white noise puts σ² in every orthonormal coefficient
    ratios = [math.log(max(a - noise, 1e-3) / max(b - noise, 1e-3)) for a, b in zip(aligned[:2], shifted[:2], strict=True)]
    return ratios[0], ratios[1], aligned[2] - shifted[2]


def frame_steps(frames: np.ndarray) -> np.ndarray:
    """(T−1,) mean absolute change between consecutive (lightly smoothed) frames."""
    smooth = ndimage.gaussian_filter(luma(frames), sigma=(0, 1.0, 1.0))
    return np.abs(np.diff(smooth, axis=0)).mean(axis=(1, 2))


def raw_edge_sharpness(frames: np.ndarray, mask: np.ndarray, present: float) -> float:
    """90th percentile of the unsmoothed chroma gradient across the subject's outline, relative to the
    subject's chroma: the analyser's segmentation smooths by 0.8 px, which hides slight blur."""
    if present <= 0.04:
        return 0.0
    c = chroma(frames)
    gy, gx = np.gradient(c, axis=(1, 2))
    ring = ndimage.binary_dilation(mask, structure=_FRAME_ONLY, iterations=1) & ~ndimage.binary_erosion(
        mask, structure=_FRAME_ONLY, iterations=1)
    if ring.sum() < 8:
        return 0.0
    return float(np.percentile(np.hypot(gx, gy)[ring], 90) / present)


def off_background_colour(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) pixels whose colour leaves the background's colour axis: a background's texture only
    scales its (tinted) grey, while a blend with a subject, even one too faint or too complementary in hue
    to raise the chroma, turns its colour off that axis."""
    axis = np.median(frames.reshape(-1, 3), axis=0)
    axis = axis / max(float(np.linalg.norm(axis)), 1e-6)
    off = frames - (frames @ axis)[..., None] * axis
    distance = np.sqrt((off * off).sum(axis=-1))
    return distance > max(0.05, 3.0 * float(np.median(distance)))
