"""Disk cache of sampled, resized frames, so epochs after the first decode nothing.

The key is the sha256 of the file's bytes plus every sampling parameter, so a re-encoded file or a changed
fps/size setting never reads a stale entry. The cache stores uint8 frames (4× smaller than the normalised
float patches); normalising and patching on load costs little next to decoding.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rewards.config import VideoConfig
from rewards.video_input import (
    SampledFrames,
    VideoDecodeError,
    VideoInfo,
    VideoPatches,
    patchify,
    sample_frames,
)

logger = logging.getLogger(__name__)

_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Content hash, memoised per (path, size, mtime) so a file is read once per process."""
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise VideoDecodeError(f"video file not found: {path}") from exc
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def cache_key(path: Path, cfg: VideoConfig) -> str:
    params = json.dumps(asdict(cfg), sort_keys=True)
    return hashlib.sha256(f"{file_sha256(path)}|{params}".encode()).hexdigest()


class ClipCache:
    """``get(path)`` returns the sampled frames of a video, decoding only on the first request."""

    def __init__(self, directory: str | Path | None, cfg: VideoConfig) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.cfg = cfg
        self.hits = 0
        self.misses = 0
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def _entry(self, path: Path) -> Path:
        key = cache_key(path, self.cfg)
        return self.directory / key[:2] / f"{key}.npz"

    def get(self, path: str | Path, declared_fps: float | None = None) -> SampledFrames:
        path = Path(path)
        if self.directory is None:
            self.misses += 1
            return sample_frames(path, self.cfg, declared_fps)
        entry = self._entry(path)
        if entry.is_file():
            try:
                with np.load(entry) as data:
                    info = VideoInfo(**json.loads(str(data["info"])))
                    sampled = SampledFrames(frames=data["frames"], indices=data["indices"], info=info)
                self.hits += 1
                return sampled
            except (OSError, ValueError, KeyError) as exc:  # a truncated entry is rebuilt, not fatal
                logger.warning("clip cache entry %s unreadable (%s); decoding %s again", entry, exc, path)
        self.misses += 1
        sampled = sample_frames(path, self.cfg, declared_fps)
        entry.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename keeps concurrent data-loader workers from reading half-written entries.
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, frames=sampled.frames, indices=sampled.indices,
                         info=np.array(json.dumps(asdict(sampled.info))))
            os.replace(tmp, entry)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return sampled

    def patches(self, path: str | Path, declared_fps: float | None = None) -> VideoPatches:
        return patchify(self.get(path, declared_fps).frames, self.cfg)
