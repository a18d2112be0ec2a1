"""Training clips for the tiny base generator, rendered by the synthetic world from mixed-quality generator
profiles, and the prompt split (train / held-out) every recipe of this package shares.

A clip set is a uint8 array [N, F, H, W, 3] plus its prompts; rendering is deterministic per (config, index), so
a set is cached once as .npz and rebuilt when missing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Profiles whose clips are mostly faithful to the prompt but vary in visual and motion quality: the base model
# should get colour, shape and direction right (the quality gate) and leave room to improve on VQ / MQ.
# atlas-pro appears twice: a third of the clips are clean.
DEFAULT_PROFILES: tuple[str, ...] = (
    "atlas-pro", "atlas-pro", "soft-focus", "grainy-faithful", "washed-out", "crisp-jitter",
)
HELDOUT_FRACTION = 0.15  # of the prompt space, by a hash of the prompt text


class ClipSetError(ValueError):
    """Invalid clip-set settings."""


@dataclass(frozen=True)
class ClipSetConfig:
    n_clips: int = 6000
    frames: int = 8
    size: int = 40
    fps: float = 8.0
    profiles: tuple[str, ...] = DEFAULT_PROFILES
    seed: int = 0

    def __post_init__(self) -> None:
        from synthetic.generators import GENERATORS

        object.__setattr__(self, "profiles", tuple(self.profiles))
        if self.n_clips < 1:
            raise ClipSetError(f"n_clips must be ≥ 1, got {self.n_clips}")
        if self.frames < 2 or self.size < 16 or self.size % 2:
            raise ClipSetError(f"clips need ≥ 2 frames and an even size ≥ 16, got {self.frames}×{self.size}")
        unknown = [p for p in self.profiles if p not in GENERATORS]
        if unknown or not self.profiles:
            raise ClipSetError(f"unknown generator profile(s) {unknown}; known: {tuple(GENERATORS)}")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def prompt_bucket(text: str) -> float:
    """A stable pseudo-random number in [0, 1) per prompt text."""
    return int.from_bytes(hashlib.sha256(f"split|{text}".encode()).digest()[:8], "big") / 2**64


def is_heldout(text: str) -> bool:
    return prompt_bucket(text) < HELDOUT_FRACTION


def heldout_prompts(n: int, seed: int = 1) -> list[str]:
    """`n` distinct held-out prompts of the grammar (never seen in pretraining or in alignment pairs)."""
    from synthetic.prompts import sample_prompt

    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        text = sample_prompt(rng).text
        if is_heldout(text):
            out.setdefault(text)
    return list(out)


def train_prompts(n: int, seed: int) -> list[str]:
    """`n` prompts (repeats allowed) drawn uniformly over the grammar outside the held-out bucket."""
    from synthetic.prompts import sample_prompt

    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        text = sample_prompt(rng).text
        if not is_heldout(text):
            out.append(text)
    return out


@dataclass
class ClipSet:
    frames: np.ndarray  # uint8 [N, F, H, W, 3]
    prompts: list[str]
    profiles: list[str]

    def __len__(self) -> int:
        return len(self.prompts)


def render_clip_set(config: ClipSetConfig) -> ClipSet:
    from synthetic.generators import GENERATORS
    from synthetic.render import RenderConfig, render_frames

    render = RenderConfig(frames=config.frames, fps=config.fps, size=config.size)
    prompts = train_prompts(config.n_clips, config.seed)
    frames = np.empty((config.n_clips, config.frames, config.size, config.size, 3), np.uint8)
    profiles = []
    start = time.monotonic()
    for i, prompt in enumerate(prompts):
        profile = config.profiles[i % len(config.profiles)]
        defects = GENERATORS[profile].sample(np.random.default_rng([config.seed, i]))
        frames[i] = render_frames(prompt, seed=config.seed * 1_000_003 + i, defects=defects, config=render)
        profiles.append(profile)
        if (i + 1) % 1000 == 0:
            logger.info("rendered %d/%d clips (%.0f s)", i + 1, config.n_clips, time.monotonic() - start)
    return ClipSet(frames, prompts, profiles)


def load_or_render(config: ClipSetConfig, cache_dir: str | Path) -> ClipSet:
    """The clip set of `config`, from `cache_dir/clips-<key>.npz` or rendered and cached there."""
    path = Path(cache_dir) / f"clips-{config.key()}.npz"
    if path.is_file():
        with np.load(path) as data:
            return ClipSet(data["frames"], [str(p) for p in data["prompts"]], [str(p) for p in data["profiles"]])
    clips = render_clip_set(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, frames=clips.frames, prompts=np.array(clips.prompts), profiles=np.array(clips.profiles))
    tmp.replace(path)
    return clips
