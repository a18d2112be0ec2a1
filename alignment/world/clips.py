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
# Grammars a base can be pretrained (and its quality gate judged) on:
# - "full": synthetic.prompts' whole grammar (1–3 subjects, eight actions, camera phrases);
# - "simple": one subject, linear motion only (moves left/right/up/down), no camera phrase; colour, shape,
#   background and tint as in the full grammar. What a ~1 M-parameter model learns within 45 CPU-minutes
#   (on the full grammar the analyser itself reads only 88% of clean 40-px clips after the codec: three small
#   subjects blur their shapes); its held-out prompts come from the same restricted grammar.
GRAMMARS: tuple[str, ...] = ("full", "simple")
LINEAR_MOTIONS: tuple[str, ...] = ("moves left", "moves right", "moves up", "moves down")


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
    grammar: str = "full"
    # synthetic.render.RenderConfig.centre_jitter: 0.03 is the world's own; a wider spread was tried for the base
    # (slower to learn direction than the default: docs/alignment/report.md)
    centre_jitter: float = 0.03

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
        check_grammar(self.grammar)

    def key(self) -> str:
        values = asdict(self)
        if values["grammar"] == "full":  # keys of sets cached before grammars existed stay valid
            del values["grammar"]
        if values["centre_jitter"] == 0.03:  # likewise before the centre could be spread
            del values["centre_jitter"]
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def check_grammar(grammar: str) -> None:
    if grammar not in GRAMMARS:
        raise ClipSetError(f"unknown grammar {grammar!r}; choose one of {', '.join(GRAMMARS)}")


def sample_grammar_prompt(rng: np.random.Generator, grammar: str = "full"):  # -> synthetic.prompts.PromptAttrs
    """One prompt drawn uniformly over `grammar`'s choices."""
    from synthetic.prompts import BACKGROUNDS, COLORS, SHAPES, TINTS, PromptAttrs, sample_prompt

    check_grammar(grammar)
    if grammar == "full":
        return sample_prompt(rng)
    return PromptAttrs(
        color=COLORS[rng.integers(len(COLORS))], shape=SHAPES[rng.integers(len(SHAPES))], count=1,
        action=LINEAR_MOTIONS[rng.integers(len(LINEAR_MOTIONS))],
        background=BACKGROUNDS[rng.integers(len(BACKGROUNDS))], tint=TINTS[rng.integers(len(TINTS))],
    )


def prompt_bucket(text: str) -> float:
    """A stable pseudo-random number in [0, 1) per prompt text."""
    return int.from_bytes(hashlib.sha256(f"split|{text}".encode()).digest()[:8], "big") / 2**64


def is_heldout(text: str) -> bool:
    return prompt_bucket(text) < HELDOUT_FRACTION


def model_grammar(model_dir: str | Path) -> str:
    """The grammar a pretrained base was trained on (its generator.json; "full" for any other model)."""
    meta = Path(model_dir) / "generator.json"
    grammar = json.loads(meta.read_text()).get("grammar", "full") if meta.is_file() else "full"
    check_grammar(grammar)
    return grammar


def heldout_prompts(n: int, seed: int = 1, grammar: str = "full") -> list[str]:
    """`n` distinct held-out prompts of `grammar` (never seen in pretraining or in alignment pairs)."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    for _ in range(1000 * n + 10_000):
        text = sample_grammar_prompt(rng, grammar).text
        if is_heldout(text):
            out.setdefault(text)
            if len(out) == n:
                return list(out)
    raise ClipSetError(f"the {grammar!r} grammar has fewer than {n} held-out prompts ({len(out)} found)")


def train_prompts(n: int, seed: int, grammar: str = "full") -> list[str]:
    """`n` prompts (repeats allowed) drawn uniformly over `grammar` outside the held-out bucket."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        text = sample_grammar_prompt(rng, grammar).text
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

    render = RenderConfig(frames=config.frames, fps=config.fps, size=config.size, centre_jitter=config.centre_jitter)
    prompts = train_prompts(config.n_clips, config.seed, config.grammar)
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
