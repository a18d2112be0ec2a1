"""One call from prompt to encoded video file."""

from __future__ import annotations

from pathlib import Path

from synthetic.defects import Defects
from synthetic.encode import encode_frames
from synthetic.prompts import PromptAttrs
from synthetic.render import RenderConfig, render_frames


def render_video(
    prompt: PromptAttrs | str,
    seed: int,
    defects: Defects | None = None,
    frames: int = 16,
    fps: float = 8.0,
    size: int = 64,
    fmt: str = "mp4",
    path: str | Path | None = None,
) -> bytes | Path:
    """Render and encode a clip; returns the file's bytes, or writes it to `path` and returns the path."""
    data = encode_frames(render_frames(prompt, seed, defects, RenderConfig(frames=frames, fps=fps, size=size)),
                         fps=fps, fmt=fmt)
    if path is None:
        return data
    path = Path(path)
    path.write_bytes(data)
    return path
