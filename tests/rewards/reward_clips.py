"""Tiny real video files for the reward tests, written with PyAV (mp4/H.264 and webm/VP9)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

BIT_BLOCK = 14  # a frame of 56×56 holds 16 blocks of 14×14: one bit of the frame index each


def write_clip(path: Path, frames: Sequence[np.ndarray], fps: int, pix_fmt: str = "yuv420p") -> Path:
    """Encode (H, W, 3) uint8 frames; the codec follows the suffix (.mp4 → H.264, .webm → VP9).

    yuv444p keeps colour edges exact (4:2:0 blurs chroma across a one-pixel border on decoding).
    """
    codec = "libx264" if path.suffix == ".mp4" else "libvpx-vp9"
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        # Near-lossless so that the tests can read colours and index bits back.
        stream.options = {"crf": "0"} if codec == "libx264" else {"lossless": "1"}
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def index_frame(i: int, size: int = 56) -> np.ndarray:
    """A frame whose 14×14 blocks spell ``i`` in binary (white = 1), row-major, least significant first."""
    frame = np.zeros((size, size, 3), dtype=np.uint8)
    per_row = size // BIT_BLOCK
    for bit in range(per_row * per_row):
        if (i >> bit) & 1:
            r, c = divmod(bit, per_row)
            frame[r * BIT_BLOCK:(r + 1) * BIT_BLOCK, c * BIT_BLOCK:(c + 1) * BIT_BLOCK] = 255
    return frame


def read_index(frame: np.ndarray) -> int:
    """Inverse of ``index_frame`` on a decoded (possibly slightly lossy) frame of the same size."""
    per_row = frame.shape[0] // BIT_BLOCK
    value = 0
    for bit in range(per_row * per_row):
        r, c = divmod(bit, per_row)
        block = frame[r * BIT_BLOCK:(r + 1) * BIT_BLOCK, c * BIT_BLOCK:(c + 1) * BIT_BLOCK]
        if block.mean() > 128:
            value |= 1 << bit
    return value


def indexed_clip(path: Path, num_frames: int, fps: int) -> Path:
    return write_clip(path, [index_frame(i) for i in range(num_frames)], fps)


QUADRANT_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], dtype=np.uint8)


def quadrant_frame(shift: int = 0) -> np.ndarray:
    """56×56: top-left, top-right, bottom-left, bottom-right 28×28 squares in QUADRANT_COLOURS (rotated by shift)."""
    frame = np.zeros((56, 56, 3), dtype=np.uint8)
    for q in range(4):
        r, c = divmod(q, 2)
        frame[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = QUADRANT_COLOURS[(q + shift) % 4]
    return frame


def coloured_clip(path: Path, colour: Sequence[int], num_frames: int = 8, fps: int = 4, noise: float = 0.0,
                  seed: int = 0) -> Path:
    """A flat-coloured clip, optionally with Gaussian pixel noise (a visible quality defect)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(num_frames):
        frame = np.broadcast_to(np.asarray(colour, dtype=np.float64), (56, 56, 3)).copy()
        if noise:
            frame += rng.normal(0, noise, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return write_clip(path, frames, fps)


DATASET_HEADER = ["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "Overall", "fps_A", "num_frames_A", "fps_B",
                  "num_frames_B"]


def brightness_dataset(directory: Path, levels: int = 6, frames: int = 4, fps: int = 4) -> Path:
    """Clips of flat grey at ``levels`` brightnesses; every ordered pair of different levels is a judgement
    where the brighter video wins on all dimensions, and each level against a noisier copy of itself is a
    tie. Prompts group pairs by the A video, so a split by prompt holds out whole groups."""
    import csv

    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for k in range(levels):
        value = 30 + k * (190 // max(1, levels - 1))
        coloured_clip(directory / f"v{k}.mp4", (value, value, value), num_frames=frames, fps=fps)
        coloured_clip(directory / f"v{k}_twin.webm", (value, value, value), num_frames=frames, fps=fps, noise=4,
                      seed=k)
        names.append(k)
    rows = []
    for a in names:
        for b in names:
            label = "A" if a > b else "B" if a < b else "same"
            path_b = f"v{b}.mp4" if a != b else f"v{b}_twin.webm"
            rows.append([f"v{a}.mp4", path_b, f"scene number {a}", label, label, label, label,
                         fps, frames, fps, frames])
    csv_path = directory / "pairs.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(DATASET_HEADER)
        writer.writerows(rows)
    return csv_path
