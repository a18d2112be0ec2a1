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
from functools import lru_cache

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
    # The scene's centre (where a moving subject is at mid-clip) is drawn uniformly within ± this of the frame's
    # centre. Wider spreads make training clips for generators that should not learn one fixed path (measured for
    # alignment's tiny base: not needed, it learnt direction with the default; docs/alignment/report.md).
    centre_jitter: float = 0.03

    def __post_init__(self) -> None:
        if not isinstance(self.frames, int) or self.frames < 2:
            raise RenderError(f"frames must be an integer >= 2, got {self.frames!r}")
        if not (self.fps > 0):
            raise RenderError(f"fps must be > 0, got {self.fps!r}")
        if not isinstance(self.size, int) or self.size < 16 or self.size % 2:
            raise RenderError(f"size must be an even integer >= 16, got {self.size!r}")
        if not 0.0 <= self.centre_jitter <= 0.25:
            raise RenderError(f"centre_jitter must be in [0, 0.25], got {self.centre_jitter!r}")


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
    psi = _mod_2pi(phi)
    k = np.minimum(_floor_div(psi, step), m - 1)
    alpha = psi - k * step
    ra, rb = radii[k], np.roll(radii, -1)[k]  # the sector's two vertices
    # The ray at angle alpha from vertex A=(ra, 0) meets segment A-B (B at angle `step`) at this distance.
    return (ra * rb * math.sin(step) / (rb * np.sin(step - alpha) + ra * np.sin(alpha))).astype(phi.dtype)


def _mod_2pi(phi: np.ndarray) -> np.ndarray:
    """np.mod(phi, 2π) to the last bit, several times faster (float32 angles within ±4π, as the renderer
    makes; others go to np.mod): a float remainder folds by exact subtractions of the period where np.mod
    (fmod, then one addition of the period to a negative remainder) would, and rounds where it rounds."""
    period = np.float32(2.0 * math.pi)
    if phi.dtype != np.float32 or not np.all(np.abs(phi) < 2 * period):
        return np.mod(phi, 2.0 * math.pi)
    folded = phi + period * ((phi < 0).astype(np.float32) - (phi >= period))
    return folded + period * (folded < 0)


def _floor_div(psi: np.ndarray, step: float) -> np.ndarray:
    """(psi // step).astype(int64) for non-negative float32 psi: the float64 quotient of two float32 values
    never rounds across an integer, so its floor is exact."""
    if psi.dtype != np.float32:
        return (psi // step).astype(np.int64)
    return np.floor(psi.astype(np.float64) / np.float64(np.float32(step))).astype(np.int64)


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


def subject_tracks(attrs: PromptAttrs, defects: Defects, seed: int, frames: int,
                   centre_jitter: float = 0.03) -> list[SubjectTrack]:
    """Per-subject trajectories for source frames 0..frames-1 (before stutter is applied)."""
    layout = rng_for(seed, "layout")
    tau = np.linspace(0.0, 1.0, frames)
    n = attrs.count + (1 if defects.wrong_count > 0 else 0)
    base_radius = SUBJECT_RADIUS[attrs.count] * SHAPE_SCALE[attrs.shape]
    amplitude = 1.0 - defects.frozen
    wrong = defects.wrong_direction
    centre = np.array([0.5, 0.5]) + layout.uniform(-centre_jitter, centre_jitter, size=2)

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
    d = track.deform.astype(np.float32)
    deformed = bool(np.any(d[:, :2] != 0))
    radius = (track.radius * size).astype(np.float32)[:, None, None]
    if shape == "circle" and morph == 0 and not deformed:
        # A plain disc's outline is its radius at every angle: no angle needed (the same numbers).
        return np.clip(0.5 - (rho - radius), 0.0, 1.0)
    # Coverage is 1 well inside the outline's smallest radius and 0 well beyond its largest: the angle and
    # the outline are needed only on the ring between (the same numbers there, far fewer of them).
    low, high = _profile_bounds(shape, morph)
    wobble_max = np.abs(d[:, 0]) + np.abs(d[:, 1]) if deformed else np.zeros(len(d), dtype=np.float32)
    inner = radius[:, 0, 0] * low * (1.0 - wobble_max) * (1.0 - 1e-4) - 0.5 - 1e-3
    outer = radius[:, 0, 0] * high * (1.0 + wobble_max) * (1.0 + 1e-4) + 0.5 + 1e-3
    alpha = (rho <= inner[:, None, None]).astype(np.float32)
    ring = (rho > inner[:, None, None]) & (rho < outer[:, None, None])
    at = np.flatnonzero(ring)
    frame = np.repeat(np.arange(len(d)), ring.reshape(len(d), -1).sum(axis=1))
    phi = np.arctan2(dy, dx).ravel()[at]
    local = phi - track.angle.astype(np.float32)[frame]
    profile = radial_profile(shape, local)
    if morph > 0:
        other = CONFUSED_SHAPE[shape]
        scale = SHAPE_SCALE[other] / SHAPE_SCALE[shape]
        profile = (1.0 - morph) * profile + morph * scale * radial_profile(other, local + (
            SHAPE_ORIENTATION[shape] - SHAPE_ORIENTATION[other]))
    if deformed:
        df = d[frame]
        wobble = df[:, 0] * np.cos(2 * phi + df[:, 2]) + df[:, 1] * np.cos(3 * phi + df[:, 3])
        profile = profile * (1.0 + wobble)
    outline = profile * radius[frame, 0, 0]
    alpha.ravel()[at] = np.clip(0.5 - (rho.ravel()[at] - outline), 0.0, 1.0)
    return alpha


@lru_cache(maxsize=64)
def _profile_bounds(shape: str, morph: float) -> tuple[float, float]:
    """Smallest and largest boundary radius (circumradius 1) of a shape morphed towards its confused one."""
    def extremes(name: str) -> tuple[float, float]:
        radii = shape_vertices(name)
        if radii is None:
            return 1.0, 1.0
        angles = 2.0 * math.pi * np.arange(len(radii)) / len(radii)
        points = radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        a, b = points, np.roll(points, -1, axis=0)
        # Nearest point of each edge to the centre.
        u = np.clip(-(a * (b - a)).sum(axis=1) / ((b - a) ** 2).sum(axis=1), 0.0, 1.0)
        return float(np.linalg.norm(a + u[:, None] * (b - a), axis=1).min()), 1.0
    low, high = extremes(shape)
    if morph > 0:
        other = CONFUSED_SHAPE[shape]
        scale = SHAPE_SCALE[other] / SHAPE_SCALE[shape]
        other_low, other_high = extremes(other)
        low = (1.0 - morph) * low + morph * scale * other_low
        high = (1.0 - morph) * high + morph * scale * other_high
    return low, high


def composite_subject(scene: np.ndarray, track: SubjectTrack, shape: str, morph: float, w: int) -> None:
    """Paint one subject, in place, over a scene (T, S, S, 3), computing coverage only in a w×w window
    around the subject in each frame.

    The window holds the whole subject (coverage is 0 outside it), so it may be slid inside the frame:
    the pixels it then covers beyond the subject get coverage 0 and keep their values."""
    t, size = scene.shape[0], scene.shape[1]
    x0 = np.clip(np.round(track.cx * size) - w // 2, -w, size).astype(np.int64)
    y0 = np.clip(np.round(track.cy * size) - w // 2, -w, size).astype(np.int64)
    if w <= size:
        x0, y0 = np.clip(x0, 0, size - w), np.clip(y0, 0, size - w)
    alpha = _alpha(track, shape, morph, size, w, x0.astype(np.float32), y0.astype(np.float32))
    alpha = alpha * np.float32(track.opacity)
    rgb = track.rgb.astype(np.float32)
    if w <= size:
        # Every frame's window as one (T, w, w, 3) selection of a strided view: one gather, one scatter.
        st = scene.strides
        windows = np.lib.stride_tricks.as_strided(
            scene, shape=(t, size - w + 1, size - w + 1, w, w, 3), strides=(st[0], st[1], st[2], st[1], st[2], st[3]))
        frames = np.arange(t)
        windows[frames, y0, x0] = _blend(windows[frames, y0, x0], alpha, rgb)
        return
    for f in range(t):  # a window wider than the frame: paint the part inside it, frame by frame
        xa, ya = max(int(x0[f]), 0), max(int(y0[f]), 0)
        xb, yb = min(int(x0[f]) + w, size), min(int(y0[f]) + w, size)
        if xa >= xb or ya >= yb:
            continue
        window = scene[f:f + 1, ya:yb, xa:xb]
        window[...] = _blend(window, alpha[f:f + 1, ya - y0[f]:yb - y0[f], xa - x0[f]:xb - x0[f]], rgb[f:f + 1])


def _blend(window: np.ndarray, alpha: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """window·(1 − alpha) + rgb·alpha for windows (T, h, w, 3), coverage (T, h, w) and colours (T, 3),
    one channel at a time (broadcasting a coverage over 3 channels runs 3-long inner loops)."""
    out = np.empty_like(window)
    rest = 1.0 - alpha
    for c in range(3):
        out[..., c] = window[..., c] * rest + rgb[:, c, None, None] * alpha
    return out


def _at_frames(track: SubjectTrack, src: np.ndarray) -> SubjectTrack:
    """The track as shown at output frames whose source frames are `src` (stutter repeats some)."""
    return SubjectTrack(cx=track.cx[src], cy=track.cy[src], radius=track.radius[src], angle=track.angle[src],
                        opacity=track.opacity, rgb=track.rgb[src], deform=track.deform[src])


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
        return _shifted_noise(seed, size, ox, oy)
    raise RenderError(f"unknown background pattern {pattern!r}")


def _shifted_noise(seed: int, size: int, ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
    """The noise texture shifted by (ox, oy) per frame: a sub-pixel shift of a periodic texture, exact in
    the Fourier domain."""
    spectrum = np.fft.fft2(_noise_tile(seed, size))
    out = np.empty((len(ox), size, size), dtype=np.float32)
    still = (ox == 0) & (oy == 0)
    if still.any():
        out[still] = np.real(np.fft.ifft2(spectrum)).astype(np.float32)
    if not still.all():
        # The texture is real, so half its spectrum does; the phase ramp factors into x and y parts.
        kx, ky = np.fft.rfftfreq(size), np.fft.fftfreq(size)
        sx, sy = ox[~still] * size, oy[~still] * size
        phase = (np.exp(-2j * math.pi * ky[None, :, None] * sy[:, None, None])
                 * np.exp(-2j * math.pi * kx[None, None, :] * sx[:, None, None]))
        out[~still] = np.fft.irfft2(spectrum[None, :, :size // 2 + 1] * phase, s=(size, size))
    return out


def tint_rgb(luma: np.ndarray, tint: str) -> np.ndarray:
    grey = (0.3 + 0.55 * luma) if tint == "day" else (0.05 + 0.3 * luma)
    colour = np.array([1.0, 1.0, 1.0] if tint == "day" else [0.8, 0.9, 1.2], dtype=np.float32)
    return grey.astype(np.float32)[..., None] * colour


def render_background(attrs: PromptAttrs, defects: Defects, seed: int, size: int, tau: np.ndarray) -> np.ndarray:
    """Background frames (T, S, S, 3) at times tau; a read-only broadcast of one frame when the camera
    stands still (every frame then shows the same background, computed once)."""
    ox, oy = camera_offsets(attrs, defects, tau)
    if not (np.any(ox) or np.any(oy)):
        one = _background(attrs, defects, seed, size, ox[:1], oy[:1])
        return np.broadcast_to(one, (len(tau), *one.shape[1:]))
    return _background(attrs, defects, seed, size, ox, oy)


def _background(attrs: PromptAttrs, defects: Defects, seed: int, size: int, ox: np.ndarray,
                oy: np.ndarray) -> np.ndarray:
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
    sums = _block_sums(_block_sums(frames, starts, counts, axis=1), starts, counts, axis=2)
    means = sums / (counts[None, :, None, None] * counts[None, None, :, None])
    # Each block mean repeated over its pixels (a plain copy, cheaper than gathering by index).
    return np.repeat(np.repeat(means, counts, axis=1), counts, axis=2)


def _block_sums(x: np.ndarray, starts: np.ndarray, counts: np.ndarray, axis: int) -> np.ndarray:
    """np.add.reduceat(x, starts, axis), to the last bit, without its slow strided loop: for runs of up to
    8 it adds the first element to the running sum of the others."""
    if counts.max() > 8:  # longer runs are summed pairwise by reduceat
        return np.add.reduceat(x, starts, axis=axis)
    first = np.take(x, starts, axis=axis)
    if counts.max() == 1:
        return first
    rest = np.zeros_like(first)
    for j in range(1, int(counts.max())):
        more = counts > j
        index = (slice(None),) * axis + (more,)
        rest[index] += np.take(x, starts[more] + j, axis=axis)
    first += rest
    return first


def _dct_quantise(frames: np.ndarray, step: float) -> np.ndarray:
    t, h, w, c = frames.shape
    ph, pw = -h % 8, -w % 8
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    hh, ww = h + ph, w + pw
    # (T, rows of blocks, columns of blocks, channel, 8, 8): each block's pixels contiguous.
    blocks = np.ascontiguousarray(frames.reshape(t, hh // 8, 8, ww // 8, 8, c).transpose(0, 1, 3, 5, 2, 4),
                                  dtype=np.float32) * 255.0
    # Where the background stands still, most blocks repeat those of the first frame: code each once.
    changed = (blocks[1:] != blocks[:1]).any(axis=(3, 4, 5))
    out = np.empty_like(blocks)
    out[:] = _code_blocks(blocks[0], step)
    if changed.any():
        out[1:][changed] = _code_blocks(blocks[1:][changed], step)
    return out.transpose(0, 1, 4, 2, 5, 3).reshape(t, hh, ww, c)[:, :h, :w]


def _code_blocks(blocks: np.ndarray, step: float) -> np.ndarray:
    """8×8 DCT quantisation of pixel blocks (..., 8, 8) on the 0–255 scale; returns them in [0, 1]."""
    coeff = sfft.dctn(blocks, axes=(-2, -1), norm="ortho")
    dc = coeff[..., 0, 0].copy()
    u = np.arange(8, dtype=np.float32)
    # Like a JPEG table: the higher the frequency, the coarser the step.
    steps = step * (1.0 + 0.5 * (u[:, None] + u[None, :]))
    coeff = np.round(coeff / steps) * steps
    coeff[..., 0, 0] = dc  # keep block means: blocking comes from the lost detail
    return sfft.idctn(coeff, axes=(-2, -1), norm="ortho") / 255.0


def apply_visual_defects(frames: np.ndarray, defects: Defects, seed: int) -> np.ndarray:
    """VQ defects on float frames in [0, 1] (T, S, S, 3); may work in place on `frames`."""
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
        # In place, in the order of 0.5 + (frames − 0.5)·(1 − 0.65·s) + 0.12·s.
        frames -= 0.5
        frames *= 1.0 - 0.65 * s
        frames += 0.5
        frames += 0.12 * s
    if defects.noise > 0:
        noise = rng_for(seed, "noise").standard_normal(size=frames.shape, dtype=np.float32)
        noise *= np.float32(0.1 * defects.noise)
        frames += noise
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
    # Stutter shows source frame src[i] at frame i; each frame's picture depends on its own time only,
    # so the shown times are rendered directly.
    src = _effective_times(config, defects, seed)
    scene = np.empty((t, size, size, 3), dtype=np.float32)
    scene[...] = render_background(attrs, defects, seed, size, tau[src])
    ox, oy = camera_offsets(attrs, defects, tau)
    tracks = [tr for tr in subject_tracks(attrs, defects, seed, t, config.centre_jitter) if tr.opacity > 0]
    morph_scale = SHAPE_SCALE[CONFUSED_SHAPE[attrs.shape]] / SHAPE_SCALE[attrs.shape] if defects.wrong_shape else 1.0
    for track in tracks:
        window = _window(track, morph_scale, size)  # from every source frame, shown or not
        shown = _at_frames(track, src)
        shown.cx = shown.cx + ox[src]
        shown.cy = shown.cy + oy[src]
        composite_subject(scene, shown, attrs.shape, defects.wrong_shape, window)
    scene = apply_visual_defects(scene, defects, seed)
    np.clip(scene, 0.0, 1.0, out=scene)
    scene *= 255.0
    scene += 0.5
    return scene.astype(np.uint8)
