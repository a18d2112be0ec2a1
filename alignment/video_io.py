"""Reading and writing video files with PyAV (no OpenCV, no torchvision)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


class VideoReadError(ValueError):
    """A video file is missing or cannot be decoded."""


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [F, H, W, 3]
    fps: float | None  # as the container reports it; None when it does not


def read_video(path: str | Path) -> DecodedVideo:
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"video file not found: {path}")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            # frames are counted by decoding: webm containers report 0 frames
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except (av.error.FFmpegError, IndexError) as exc:
        raise VideoReadError(f"cannot decode video {path}: {exc}") from exc
    if not frames:
        raise VideoReadError(f"video has no frames: {path}")
    return DecodedVideo(np.stack(frames), float(rate) if rate else None)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 8) -> Path:
    """uint8 [F, H, W, 3] → mp4 (H.264, yuv420p) or webm (VP9), chosen by the suffix; sides must be even."""
    path = Path(path)
    codec = {".mp4": "libx264", ".webm": "libvpx-vp9"}.get(path.suffix)
    if codec is None:
        raise ValueError(f"unsupported video suffix {path.suffix!r} (use .mp4 or .webm): {path}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [F, H, W, 3], got {frames.dtype} {frames.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "10"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return path
