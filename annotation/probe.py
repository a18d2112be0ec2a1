"""Probing video files with PyAV: timing, size and codec as the file says (not as a manifest claims)."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import av


class ProbeError(ValueError):
    """The file is missing, unreadable or not a video."""


@dataclass(frozen=True)
class VideoProbe:
    fps: float
    num_frames: int
    width: int
    height: int
    duration: float
    codec: str
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def probe_video(path: Path) -> VideoProbe:
    if not path.is_file():
        raise ProbeError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ProbeError(f"{path}: not a video (no video stream)")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            num_frames = stream.frames
            if not num_frames:
                # WebM declares no frame count: count by decoding (the files here are short clips).
                num_frames = sum(1 for _ in container.decode(stream))
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
    except av.error.FFmpegError as error:
        raise ProbeError(f"{path}: not a readable video ({error.strerror or error})") from error
    if fps <= 0 or num_frames <= 0:
        raise ProbeError(f"{path}: no frames or no frame rate")
    return VideoProbe(
        fps=fps,
        num_frames=num_frames,
        width=width,
        height=height,
        duration=num_frames / fps,
        codec=codec,
        sha256=file_sha256(path),
    )
