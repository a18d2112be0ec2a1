"""Videos → conformed clips → normalised latents, encoded once and cached on disk.

Every video is conformed to one `ClipSpec` (frame count, size, sampling fps) so that a winner and a loser have
the same latent shape, then encoded with the generator's `LatentCodec` (pluggable: Wan VAE or pixel-unshuffle).
The cache key covers the file (path, size, mtime), the spec and the codec, so a changed input is re-encoded.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from alignment.codec import LatentCodec
from alignment.video_io import read_video

logger = logging.getLogger(__name__)


class VideoMetadataError(ValueError):
    """A video does not match what its export row declares, or is too short for the clip spec."""


@dataclass(frozen=True)
class ClipSpec:
    num_frames: int
    height: int
    width: int
    fps: float | None = None  # sampling rate; None takes consecutive frames at the source rate

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.height < 1 or self.width < 1:
            raise ValueError(f"clip spec needs positive sizes, got {self}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"clip spec fps must be positive, got {self.fps}")


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 [F, H, W, 3] → float [3, F, H, W] in [−1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0


def conform_frames(
    frames: np.ndarray, source_fps: float | None, spec: ClipSpec, name: str = "video"
) -> torch.Tensor:
    """Pick `spec.num_frames` frames at `spec.fps` from the start and resize: float [3, F, H, W] in [−1, 1]."""
    if spec.fps is None:
        indices = np.arange(spec.num_frames)
    else:
        if not source_fps:
            raise VideoMetadataError(f"{name}: fps unknown, cannot sample at {spec.fps} fps")
        # frame k is shown at time k/fps: take the source frame on screen at that time
        indices = np.floor(np.arange(spec.num_frames) * source_fps / spec.fps + 1e-6).astype(int)
    if indices[-1] >= len(frames):
        raise VideoMetadataError(
            f"{name}: {len(frames)} frames are too few for {spec.num_frames} frames at {spec.fps or source_fps} fps"
        )
    clip = frames_to_tensor(frames[indices])
    if clip.shape[-2:] != (spec.height, spec.width):
        clip = F.interpolate(clip, size=(spec.height, spec.width), mode="bilinear", antialias=True)
    return clip


def load_clip(
    path: str | Path,
    spec: ClipSpec,
    declared_fps: float | None = None,
    declared_num_frames: int | None = None,
) -> torch.Tensor:
    """Decode and conform one video file, checking the frame count and fps an export row declares."""
    video = read_video(path)
    if declared_num_frames is not None and int(declared_num_frames) != len(video.frames):
        raise VideoMetadataError(
            f"{path}: the export declares {int(declared_num_frames)} frames, the file has {len(video.frames)}"
        )
    fps = video.fps
    if declared_fps is not None:
        if fps is not None and abs(fps - declared_fps) > 0.01 * declared_fps:
            raise VideoMetadataError(f"{path}: the export declares {declared_fps} fps, the file has {fps:.3f}")
        fps = declared_fps
    return conform_frames(video.frames, fps, spec, name=str(path))


class LatentCache:
    """Latents stored as one safetensors file per (video, clip spec, codec)."""

    def __init__(self, directory: str | Path, codec: LatentCodec, spec: ClipSpec) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.codec, self.spec = codec, spec
        self._salt = json.dumps({"codec": codec.spec(), "clip": asdict(spec)}, sort_keys=True)

    def key(self, path: Path) -> str:
        stat = path.stat()
        ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{self._salt}"
        return hashlib.sha256(ident.encode()).hexdigest()[:32]

    def get(self, path: Path, declared_fps: float | None = None, declared_num_frames: int | None = None) -> torch.Tensor:
        """Latent [C, f, h, w] of one video, encoding it on a cache miss."""
        file = self.directory / f"{self.key(path)}.safetensors"
        if file.exists():
            return load_file(file)["latent"]
        clip = load_clip(path, self.spec, declared_fps, declared_num_frames)
        latent = self.codec.encode(clip.unsqueeze(0))[0].contiguous()
        # Write-then-rename: a process killed mid-write must not leave a truncated entry for the next run to load.
        partial = file.with_name(f".{file.name}.partial")
        save_file({"latent": latent}, partial)
        os.replace(partial, file)
        return latent


def encode_videos(
    videos: Iterable[tuple[Path, float | None, int | None]], cache: LatentCache
) -> dict[Path, torch.Tensor]:
    """Encode (path, declared fps, declared frame count) triples once each; returns path → latent."""
    out: dict[Path, torch.Tensor] = {}
    for path, fps, num_frames in videos:
        if path not in out:
            out[path] = cache.get(path, fps, num_frames)
    logger.info("latents ready for %d videos", len(out))
    return out
