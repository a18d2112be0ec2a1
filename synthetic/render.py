"""The renderer: prompt + seed + defect vector -> frames (T×H×W×3 uint8), deterministic per seed.

The world lives in normalised coordinates (x right, y down, both in [0, 1]) so every size renders the same
scene. What each defect does (severity s in [0, 1]):

- VQ, applied to whole frames in this order: blur (Gaussian, σ = 2.2·s px at 64 px), pixelation (blocks of
  1 + 7·s px at 64 px), blockiness (8×8 DCT quantisation, step 40·s·(1 + (u + v)/2) at frequency (u, v)), low contrast (contrast ×(1 − 0.65·s),
  lifted towards grey: washed out), noise (Gaussian, σ = 0.1·s of full scale, fresh every frame).
- MQ: jitter (subject offset per frame, σ = 0.035·s of the frame), stutter (each frame after the first repeats
  the previous one with probability 0.6·s: dropped and duplicated frames), teleport (the subjects jump
  0.28·s of the frame away for a quarter of the clip and back), flicker (per-frame shape deformation of
  two harmonics, each up to 12·s % of the radius, and brightness dips up to 35·s %), frozen (the prompted motion's amplitude
  ×(1 − s); no effect on "stays still").
- TA: wrong colour (hue rotated by 180°·s), wrong shape (outline morphed towards another shape by s), wrong
  direction (motion direction rotated by 180°·s, bounce axis by 90°·s, rotation/growth reversed for the
  last share s of the clip), wrong count (one extra subject at opacity s), missing subject (subjects at opacity 1 − s), wrong
  background (blended by s towards another pattern with the other tint), ignored camera (camera move ×(1 − s);
  no effect without a camera phrase).

Every random element draws from its own stream (seed, element name), so changing one defect's severity
changes nothing else in the clip.
"""

from __future__ import annotations

import colorsys
import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from synthetic.defects import Defects
from synthetic.prompts import PromptAttrs, as_attrs


class RenderError(ValueError):
    """Invalid render settings."""


@dataclass(frozen=True)
class RenderConfig:
    """Clip geometry; libx264 with yuv420p needs an even size."""

    frames: int = 16
    fps: float = 8.0
    size: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.frames, int) or self.frames < 2:
            raise RenderError(f"frames must be an integer >= 2, got {self.frames!r}")
        if not (self.fps > 0):
            raise RenderError(f"fps must be > 0, got {self.fps!r}")
        if not isinstance(self.size, int) or self.size < 16 or self.size % 2:
            raise RenderError(f"size must be an even integer >= 16, got {self.size!r}")


# Hue in degrees; all subjects are saturated, all backgrounds nearly grey, which the analyser relies on.
PALETTE_HUES: dict[str, float] = {
    "red": 0.0, "orange": 28.0, "yellow": 55.0, "green": 125.0, "blue": 220.0, "purple": 280.0,
}
SUBJECT_SATURATION = 0.85
SUBJECT_VALUE = 0.92
# Circumradius multipliers that give the shapes comparable areas.
SHAPE_SCALE: dict[str, float] = {"circle": 1.0, "square": 1.2, "triangle": 1.4, "star": 1.45}
STAR_INNER = 0.45
# A wrong shape morphs towards this one.
CONFUSED_SHAPE: dict[str, str] = {"circle": "star", "square": "triangle", "triangle": "circle", "star": "square"}
# A wrong background blends towards this pattern (with the other tint).
CONFUSED_BACKGROUND: dict[str, str] = {"plain": "striped", "gradient": "noisy", "striped": "plain", "noisy": "gradient"}
SUBJECT_RADIUS: dict[int, float] = {1: 0.12, 2: 0.085, 3: 0.07, 4: 0.06}
GROW_RANGE = 0.6  # a growing subject's radius goes from 1 − 0.3 to 1 + 0.3 times its size
MOVE_DISTANCE = 0.36
CAMERA_DISTANCE = 0.2
BOUNCE_HEIGHT = 0.28
STRIPE_PERIOD = 0.25
CAMERA_OFFSET: dict[str, tuple[float, float]] = {
    # The camera moving left makes the scene move right in the frame.
    "pans left": (1.0, 0.0), "pans right": (-1.0, 0.0), "tilts up": (0.0, 1.0), "tilts down": (0.0, -1.0),
}
MOVE_ANGLE: dict[str, float] = {
    "moves right": 0.0, "moves down": math.pi / 2, "moves left": math.pi, "moves up": -math.pi / 2,
}


def rng_for(seed: int, element: str) -> np.random.Generator:
    """An independent random stream per (seed, element): stable across runs and Python versions."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(element.encode())])


def subject_rgb(color: str, hue_shift_degrees: float = 0.0) -> np.ndarray:
    hue = ((PALETTE_HUES[color] + hue_shift_degrees) % 360.0) / 360.0
    return np.array(colorsys.hsv_to_rgb(hue, SUBJECT_SATURATION, SUBJECT_VALUE), dtype=np.float32)


def shape_vertices(shape: str) -> np.ndarray | None:
    """Radii of a shape's vertices (equally spaced in angle, the first at angle 0); None for a circle."""
    if shape == "circle":
        return None
    if shape == "star":
        return np.tile(np.array([1.0, STAR_INNER]), 5)
    return np.ones({"square": 4, "triangle": 3}[shape])


# Rotational symmetry order (a star's ten vertices make a 5-fold shape).
SYMMETRY: dict[str, int] = {"circle": 0, "square": 4, "triangle": 3, "star": 5}
SHAPE_ORIENTATION: dict[str, float] = {"circle": 0.0, "square": math.pi / 4, "triangle": -math.pi / 2, "star": -math.pi / 2}


def radial_profile(shape: str, phi: np.ndarray) -> np.ndarray:
    """Boundary radius (circumradius 1) at polar angle `phi` relative to the shape's first vertex."""
    radii = shape_vertices(shape)
    if radii is None:
        return np.ones_like(phi)
    m = len(radii)
    step = 2.0 * math.pi / m
    psi = np.mod(phi, 2.0 * math.pi)
    k = np.minimum((psi // step).astype(np.int64), m - 1)
    alpha = psi - k * step
    ra, rb = radii[k], radii[(k + 1) % m]
    # The ray at angle alpha from vertex A=(ra, 0) meets segment A-B (B at angle `step`) at this distance.
    return (ra * rb * math.sin(step) / (rb * np.sin(step - alpha) + ra * np.sin(alpha))).astype(phi.dtype)


@dataclass
class SubjectTrack:
    """One subject's per-frame geometry in normalised units."""

    cx: np.ndarray
    cy: np.ndarray
    radius: np.ndarray
    angle: np.ndarray
    opacity: float
    rgb: np.ndarray  # (T, 3)
    deform: np.ndarray  # (T, 4): amplitudes and phases of harmonics 2 and 3, relative to the radius


def reversal_profile(tau: np.ndarray, wrong: float) -> np.ndarray:
    """Progress of a rotation or growth whose sense is wrong for the last `wrong` share of the clip:
    forward until τ = 1 − wrong, then backwards (all backwards at wrong = 1). Speed stays as prompted, so a
    wrong sense is never mistaken for a frozen one."""
    return np.minimum(tau, 2.0 * (1.0 - wrong) - tau)


def _effective_times(config: RenderConfig, defects: Defects, seed: int) -> np.ndarray:
    """Source frame index for each output frame: stutter holds frames (duplicated) and then skips ahead."""
    t = config.frames
    hold = rng_for(seed, "stutter").random(t) < 0.6 * defects.stutter
    src = np.arange(t)
    for i in range(1, t):
        if hold[i]:
            src[i] = src[i - 1]
    return src


def camera_offsets(attrs: PromptAttrs, defects: Defects, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if attrs.camera is None:
        return np.zeros_like(tau), np.zeros_like(tau)
    ux, uy = CAMERA_OFFSET[attrs.camera]
    amount = CAMERA_DISTANCE * (1.0 - defects.ignored_camera) * tau
    return ux * amount, uy * amount


def subject_tracks(attrs: PromptAttrs, defects: Defects, seed: int, frames: int) -> list[SubjectTrack]:
    """Per-subject trajectories for source frames 0..frames-1 (before stutter is applied)."""
    layout = rng_for(seed, "layout")
    tau = np.linspace(0.0, 1.0, frames)
    n = attrs.count + (1 if defects.wrong_count > 0 else 0)
    base_radius = SUBJECT_RADIUS[attrs.count] * SHAPE_SCALE[attrs.shape]
    amplitude = 1.0 - defects.frozen
    wrong = defects.wrong_direction
    centre = np.array([0.5, 0.5]) + layout.uniform(-0.03, 0.03, size=2)

    along = np.zeros((frames, 2))  # motion offset, shared by all subjects
    radius = np.full(frames, base_radius)
    angle = np.full(frames, SHAPE_ORIENTATION[attrs.shape])
    perpendicular = np.array([1.0, 0.0])  # subjects of a group stand side by side along this axis
    if attrs.action in MOVE_ANGLE:
        a = MOVE_ANGLE[attrs.action] + math.pi * wrong
        along = MOVE_DISTANCE * amplitude * (tau - 0.5)[:, None] * np.array([math.cos(a), math.sin(a)])
        prompted = MOVE_ANGLE[attrs.action]
        perpendicular = np.array([-math.sin(prompted), math.cos(prompted)])
    elif attrs.action == "bounces":
        a = -math.pi / 2 + (math.pi / 2) * wrong  # upwards, turned towards horizontal when wrong
        height = BOUNCE_HEIGHT * amplitude * np.abs(np.sin(2.0 * math.pi * tau))
        along = height[:, None] * np.array([math.cos(a), math.sin(a)])
        centre = centre + np.array([0.0, 0.12])
    elif attrs.action == "rotates":
        m = SYMMETRY[attrs.shape]
        # Clockwise on screen (y down), 80% of one symmetry period so the sense is unambiguous.
        angle = angle + amplitude * 0.8 * (2.0 * math.pi / m) * reversal_profile(tau, wrong)
    elif attrs.action == "grows":
        g = reversal_profile(tau, wrong)
        radius = base_radius * (1.0 + GROW_RANGE * amplitude * (g - 0.5 * (g.max() + g.min())))

    jitter = rng_for(seed, "jitter").normal(0.0, 0.035 * defects.jitter, size=(n, frames, 2))
    teleport = np.zeros((frames, 2))
    if defects.teleport > 0:
        trng = rng_for(seed, "teleport")
        start = int(trng.integers(frames // 4, max(frames // 2, frames // 4 + 1)))
        length = max(2, frames // 4)
        direction = trng.uniform(0.0, 2.0 * math.pi)
        teleport[start:start + length] = 0.28 * defects.teleport * np.array([math.cos(direction), math.sin(direction)])
    frng = rng_for(seed, "flicker")
    deform_coeff = frng.uniform(-1.0, 1.0, size=(n, frames, 2)) * 0.12 * defects.flicker
    deform_phase = frng.uniform(0.0, 2.0 * math.pi, size=(n, frames, 2))
    brightness = 1.0 - 0.35 * defects.flicker * frng.random((n, frames))

    # Side by side with a gap, at their largest (a growing star included), yet all inside the frame.
    spacing = 2.7 * float(radius.max()) * (1.0 + 0.12 * defects.flicker * 2)
    spacing = min(max(spacing, 0.26), 0.8 / max(n - 1, 1))
    rgb = subject_rgb(attrs.color, 180.0 * defects.wrong_color)
    tracks = []
    for i in range(n):
        offset = (i - (n - 1) / 2.0) * spacing * perpendicular
        pos = centre + offset + along + jitter[i] + teleport
        opacity = 1.0 - defects.missing_subject
        if i == attrs.count:  # the extra subject of a wrong count
            opacity *= defects.wrong_count
        tracks.append(SubjectTrack(
            cx=pos[:, 0], cy=pos[:, 1], radius=radius, angle=angle, opacity=opacity,
            rgb=rgb[None, :] * brightness[i][:, None],
            deform=np.concatenate([deform_coeff[i], deform_phase[i]], axis=1),
        ))
    return tracks


def _window(track: SubjectTrack, morph_scale: float, size: int) -> int:
    """Side (px) of a square window that holds the subject in every frame, whatever its deformation."""
    wobble = 1.0 + np.abs(track.deform[:, :2]).sum(axis=1).max()
    return int(math.ceil(2.0 * float(track.radius.max()) * size * max(1.0, morph_scale) * wobble)) + 4


def _alpha(track: SubjectTrack, shape: str, morph: float, size: int, w: int,
           x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage (T, w, w) of one subject in per-frame windows with top-left (y0, x0):
    0.5 − (distance past the outline in pixels), measured along the ray from the centre."""
    grid = np.arange(w, dtype=np.float32) + 0.5
    dx = (x0[:, None] + grid[None, :] - (track.cx * size)[:, None]).astype(np.float32)[:, None, :]
    dy = (y0[:, None] + grid[None, :] - (track.cy * size)[:, None]).astype(np.float32)[:, :, None]
    rho = np.sqrt(dx * dx + dy * dy)
    phi = np.arctan2(dy, dx)
    local = phi - track.angle.astype(np.float32)[:, None, None]
    profile = radial_profile(shape, local)
    if morph > 0:
        other = CONFUSED_SHAPE[shape]
        scale = SHAPE_SCALE[other] / SHAPE_SCALE[shape]
        profile = (1.0 - morph) * profile + morph * scale * radial_profile(other, local + (
            SHAPE_ORIENTATION[shape] - SHAPE_ORIENTATION[other]))
    d = track.deform.astype(np.float32)
    if np.any(d[:, :2] != 0):
        wobble = (d[:, 0, None, None] * np.cos(2 * phi + d[:, 2, None, None])
                  + d[:, 1, None, None] * np.cos(3 * phi + d[:, 3, None, None]))
        profile = profile * (1.0 + wobble)
    outline = profile * (track.radius * size).astype(np.float32)[:, None, None]
    return np.clip(0.5 - (rho - outline), 0.0, 1.0)


def composite_subject(padded: np.ndarray, margin: int, track: SubjectTrack, shape: str, morph: float) -> None:
    """Paint one subject, in place, over a scene padded by `margin` px on each side (T, S+2m, S+2m, 3),
    computing coverage only in a window around the subject."""
    t, size = padded.shape[0], padded.shape[1] - 2 * margin
    morph_scale = SHAPE_SCALE[CONFUSED_SHAPE[shape]] / SHAPE_SCALE[shape] if morph > 0 else 1.0
    w = min(_window(track, morph_scale, size), margin)
    x0 = np.clip(np.round(track.cx * size) - w // 2, -w, size).astype(np.int64)
    y0 = np.clip(np.round(track.cy * size) - w // 2, -w, size).astype(np.int64)
    alpha = _alpha(track, shape, morph, size, w, x0.astype(np.float32), y0.astype(np.float32))
    alpha = alpha[..., None] * np.float32(track.opacity)
    tt = np.arange(t)[:, None, None]
    rows = (y0[:, None] + margin + np.arange(w))[:, :, None]
    cols = (x0[:, None] + margin + np.arange(w))[:, None, :]
    window = padded[tt, rows, cols]
    padded[tt, rows, cols] = window * (1.0 - alpha) + track.rgb.astype(np.float32)[:, None, None, :] * alpha


def _noise_tile(seed: int, size: int) -> np.ndarray:
    """A periodic, smooth grey texture (std 0.18 around 0.5), its spectrum low-passed."""
    white = rng_for(seed, "background-noise").normal(size=(size, size))
    f = np.fft.fftfreq(size) * (size / 64.0)
    radius2 = f[:, None] ** 2 + f[None, :] ** 2
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white) * np.exp(-radius2 / (2 * 0.06**2))))
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-9)
    return 0.5 + 0.18 * smooth


def background_luma(pattern: str, seed: int, size: int, ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
    """Grey level (T, S, S) of a pattern seen with the scene shifted by (ox, oy) (normalised units)."""
    frames = len(ox)
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    x = coords[None, None, :] - ox.astype(np.float32)[:, None, None]
    y = coords[None, :, None] - oy.astype(np.float32)[:, None, None]
    if pattern == "plain":
        return np.full((frames, size, size), 0.5, dtype=np.float32)
    if pattern == "gradient":
        return np.broadcast_to(0.15 + 0.7 * np.mod(y, 1.0), (frames, size, size)).astype(np.float32)
    if pattern == "striped":
        # tanh of a sine: stripes with a ~1 px anti-aliased edge.
        return (0.5 + 0.35 * np.tanh(2.5 * np.sin(2 * math.pi * (x + y) / STRIPE_PERIOD))).astype(np.float32)
    if pattern == "noisy":
        tile = _noise_tile(seed, size)
        spectrum = np.fft.fft2(tile)
        k = np.fft.fftfreq(size)
        # A sub-pixel shift of a periodic texture, exact in the Fourier domain.
        phase = np.exp(-2j * math.pi * (k[None, None, :] * (ox * size)[:, None, None]
                                        + k[None, :, None] * (oy * size)[:, None, None]))
        return np.real(np.fft.ifft2(spectrum[None] * phase)).astype(np.float32)
    raise RenderError(f"unknown background pattern {pattern!r}")


def tint_rgb(luma: np.ndarray, tint: str) -> np.ndarray:
    grey = (0.3 + 0.55 * luma) if tint == "day" else (0.05 + 0.3 * luma)
    colour = np.array([1.0, 1.0, 1.0] if tint == "day" else [0.8, 0.9, 1.2], dtype=np.float32)
    return grey.astype(np.float32)[..., None] * colour


def render_background(attrs: PromptAttrs, defects: Defects, seed: int, size: int, tau: np.ndarray) -> np.ndarray:
    ox, oy = camera_offsets(attrs, defects, tau)
    bg = tint_rgb(background_luma(attrs.background, seed, size, ox, oy), attrs.tint)
    if defects.wrong_background > 0:
        other_tint = "night" if attrs.tint == "day" else "day"
        other = tint_rgb(background_luma(CONFUSED_BACKGROUND[attrs.background], seed, size, ox, oy), other_tint)
        bg = (1.0 - defects.wrong_background) * bg + defects.wrong_background * other
    return bg.astype(np.float32)


def _pixelate(frames: np.ndarray, block: float) -> np.ndarray:
    size = frames.shape[1]
    ids = (np.arange(size) / block).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(ids) > 0])
    counts = np.diff(np.r_[starts, size])
    sums = np.add.reduceat(np.add.reduceat(frames, starts, axis=1), starts, axis=2)
    means = sums / (counts[None, :, None, None] * counts[None, None, :, None])
    return means[:, ids][:, :, ids]


def _dct_quantise(frames: np.ndarray, step: float) -> np.ndarray:
    t, h, w, c = frames.shape
    ph, pw = -h % 8, -w % 8
    padded = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    blocks = padded.reshape(t, (h + ph) // 8, 8, (w + pw) // 8, 8, c)
    coeff = sfft.dctn(blocks.astype(np.float32) * 255.0, axes=(2, 4), norm="ortho")
    dc = coeff[:, :, 0, :, 0, :].copy()
    u = np.arange(8, dtype=np.float32)
    # Like a JPEG table: the higher the frequency, the coarser the step.
    steps = (step * (1.0 + 0.5 * (u[:, None] + u[None, :])))[None, None, :, None, :, None]
    coeff = np.round(coeff / steps) * steps
    coeff[:, :, 0, :, 0, :] = dc  # keep block means: blocking comes from the lost detail
    out = sfft.idctn(coeff, axes=(2, 4), norm="ortho") / 255.0
    return out.reshape(t, h + ph, w + pw, c)[:, :h, :w]


def apply_visual_defects(frames: np.ndarray, defects: Defects, seed: int) -> np.ndarray:
    """VQ defects on float frames in [0, 1] (T, S, S, 3)."""
    scale = frames.shape[1] / 64.0
    if defects.blur > 0:
        sigma = 2.2 * defects.blur * scale
        frames = ndimage.gaussian_filter(frames, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=3.0)
    if defects.pixelation > 0:
        block = 1.0 + 7.0 * defects.pixelation * scale
        if block >= 1.05:
            frames = _pixelate(frames, block)
    if defects.blockiness > 0:
        frames = _dct_quantise(frames, 40.0 * defects.blockiness)
    if defects.low_contrast > 0:
        s = defects.low_contrast
        frames = 0.5 + (frames - 0.5) * (1.0 - 0.65 * s) + 0.12 * s
    if defects.noise > 0:
        noise = rng_for(seed, "noise").standard_normal(size=frames.shape, dtype=np.float32)
        frames = frames + np.float32(0.1 * defects.noise) * noise
    return frames


def render_frames(
    prompt: PromptAttrs | str, seed: int, defects: Defects | None = None, config: RenderConfig | None = None,
) -> np.ndarray:
    """Render one clip as uint8 frames (T, S, S, 3)."""
    attrs = as_attrs(prompt)
    defects = defects or Defects()
    config = config or RenderConfig()
    size, t = config.size, config.frames
    tau = np.linspace(0.0, 1.0, t)
    scene = render_background(attrs, defects, seed, size, tau)
    ox, oy = camera_offsets(attrs, defects, tau)
    tracks = [tr for tr in subject_tracks(attrs, defects, seed, t) if tr.opacity > 0]
    if tracks:
        morph_scale = SHAPE_SCALE[CONFUSED_SHAPE[attrs.shape]] / SHAPE_SCALE[attrs.shape] if defects.wrong_shape else 1.0
        margin = max(_window(tr, morph_scale, size) for tr in tracks)
        padded = np.zeros((t, size + 2 * margin, size + 2 * margin, 3), dtype=np.float32)
        padded[:, margin:margin + size, margin:margin + size] = scene
        for track in tracks:
            track.cx = track.cx + ox
            track.cy = track.cy + oy
            composite_subject(padded, margin, track, attrs.shape, defects.wrong_shape)
        scene = padded[:, margin:margin + size, margin:margin + size]
    scene = scene[_effective_times(config, defects, seed)]
    scene = apply_visual_defects(scene, defects, seed)
    return (np.clip(scene, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
