"""From a video file to Qwen2-VL video input, in the project's own code (REFERENCE §2).

Steps: read the file's real fps and frame count (webm reports no frame count: the frames are counted by
decoding) → choose frame indices uniformly in time at ``VideoConfig.fps`` → decode those frames resized to
sides that are multiples of 28 → normalise with the CLIP mean/std → cut into 14×14×2 patches in the order
the Qwen2-VL vision tower expects.

The declared fps of a dataset row is never used for sampling: a wrong value there would silently sample
frames from the wrong times (a known VideoAlign pitfall); a mismatch is only logged.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rewards.config import VideoConfig

logger = logging.getLogger(__name__)

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


class VideoDecodeError(ValueError):
    """A video file is missing, unreadable or has no video frames; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    num_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class SampledFrames:
    """Frames chosen from one file: ``frames`` (T, H, W, 3) uint8 RGB, already resized; ``indices`` (T,)."""

    frames: np.ndarray
    indices: np.ndarray
    info: VideoInfo

    @property
    def timestamps(self) -> np.ndarray:
        return self.indices / self.info.fps


@dataclass(frozen=True)
class VideoPatches:
    """Qwen2-VL input for one video.

    ``pixel_values`` (grid_t·grid_h·grid_w, 3·temporal_patch·patch·patch) float32, e.g. (N, 1176);
    ``grid_thw`` (3,) int64 = (T/2, H/14, W/14). The text needs grid_t·grid_h·grid_w / merge² video tokens.
    """

    pixel_values: np.ndarray
    grid_thw: np.ndarray

    def num_video_tokens(self, merge_size: int) -> int:
        return int(np.prod(self.grid_thw)) // (merge_size * merge_size)


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise VideoDecodeError(f"video file not found: {path}")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(f"cannot open video {path}: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"no video stream in {path}")
    return container


def _decode_all(container: av.container.InputContainer, path: Path):
    """Yield decoded frames, turning decoder failures into VideoDecodeError naming the file."""
    try:
        yield from container.decode(video=0)
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoDecodeError(f"corrupt video {path}: {exc}") from exc


def probe(path: str | Path) -> VideoInfo:
    """The file's real fps and frame count (counted by decoding when the container does not say)."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        rate: Fraction | None = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise VideoDecodeError(f"video {path} has no frame rate")
        num_frames = stream.frames
        if num_frames <= 0:  # webm/matroska: no count in the header
            num_frames = sum(1 for _ in _decode_all(container, path))
        if num_frames <= 0:
            raise VideoDecodeError(f"video {path} has no decodable frames")
        return VideoInfo(fps=float(rate), num_frames=int(num_frames),
                         width=stream.codec_context.width, height=stream.codec_context.height)


def num_sampled_frames(info: VideoInfo, cfg: VideoConfig) -> int:
    """duration × fps rounded to even, clamped to [min_frames, max_frames]; never more than the file has,
    except that short files still give min_frames (frames repeat)."""
    n = 2 * round(info.duration * cfg.fps / 2)
    available = max(2, info.num_frames - info.num_frames % 2)
    return int(min(max(min(n, available), cfg.min_frames), cfg.max_frames))


def sample_indices(info: VideoInfo, cfg: VideoConfig) -> np.ndarray:
    """Frame indices spread uniformly over [0, last frame] (the first and last frames included)."""
    n = num_sampled_frames(info, cfg)
    return np.round(np.linspace(0, info.num_frames - 1, n)).astype(np.int64)


def resized_shape(height: int, width: int, cfg: VideoConfig) -> tuple[int, int]:
    """Sides rounded to multiples of ``cfg.factor`` (28), keeping the aspect ratio, with
    min_pixels ≤ H·W ≤ max_pixels."""
    f = cfg.factor
    h = max(f, round(height / f) * f)
    w = max(f, round(width / f) * f)
    if h * w > cfg.max_pixels:
        beta = math.sqrt(height * width / cfg.max_pixels)
        h = max(f, math.floor(height / beta / f) * f)
        w = max(f, math.floor(width / beta / f) * f)
    elif h * w < cfg.min_pixels:
        beta = math.sqrt(cfg.min_pixels / (height * width))
        h = math.ceil(height * beta / f) * f
        w = math.ceil(width * beta / f) * f
    return h, w


def sample_frames(path: str | Path, cfg: VideoConfig, declared_fps: float | None = None) -> SampledFrames:
    """Decode the frames chosen by ``sample_indices``, resized to ``resized_shape``."""
    path = Path(path)
    info = probe(path)
    if declared_fps is not None and abs(declared_fps - info.fps) > 0.01 * info.fps:
        logger.warning("%s: declared fps %.3f differs from the file's %.3f; sampling uses the file's",
                       path, declared_fps, info.fps)
    indices = sample_indices(info, cfg)
    height, width = resized_shape(info.height, info.width, cfg)
    wanted = set(indices.tolist())
    last_wanted = int(indices.max())
    picked: dict[int, np.ndarray] = {}
    last: np.ndarray | None = None
    with _open(path) as container:
        for i, frame in enumerate(_decode_all(container, path)):
            if i in wanted:
                picked[i] = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="BICUBIC")
                last = picked[i]
            if i >= last_wanted:
                break
    if last is None:
        raise VideoDecodeError(f"video {path} has no decodable frames")
    # A header frame count can exceed what decodes; missing tail indices reuse the last decoded frame.
    frames = np.stack([picked.get(i, last) for i in indices.tolist()])  # (T, H, W, 3) uint8
    return SampledFrames(frames=frames, indices=indices, info=info)


def patchify(frames: np.ndarray, cfg: VideoConfig) -> VideoPatches:
    """(T, H, W, 3) uint8 RGB → Qwen2-VL patches; H and W must be multiples of ``cfg.factor``."""
    t, h, w, c = frames.shape
    p, m, tp = cfg.patch_size, cfg.merge_size, cfg.temporal_patch_size
    if h % (p * m) or w % (p * m):
        raise ValueError(f"frame size {h}x{w} is not a multiple of {p * m}")
    x = frames.transpose(0, 3, 1, 2)  # (T, C, H, W)
    if pad := -t % tp:  # repeat the last frame up to a multiple of the temporal patch
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
    gt, gh, gw = x.shape[0] // tp, h // p, w // p
    x = x.reshape(gt, tp, c, gh // m, m, p, gw // m, m, p)
    # Rows ordered (t, block row, block col, row in block, col in block) so that each 2×2 merge group is
    # contiguous; each row holds (channel, frame in patch, pixel row, pixel col).
    x = np.ascontiguousarray(x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8))  # (gt, gh/m, gw/m, m, m, C, tp, p, p)
    # Normalised after the reordering: the same float operations on the same values (bit-identical), but the
    # big transpose moves uint8 instead of float32, 3-4× less work per clip (it was most of the data wait in
    # epochs that read the clip cache).
    shape = (c, 1, 1, 1)
    x = (x.astype(np.float32) / 255.0 - CLIP_MEAN.reshape(shape)) / CLIP_STD.reshape(shape)
    pixel_values = x.reshape(gt * gh * gw, c * tp * p * p)
    return VideoPatches(pixel_values=pixel_values, grid_thw=np.array([gt, gh, gw], dtype=np.int64))
