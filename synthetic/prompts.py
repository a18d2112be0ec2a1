"""The prompt grammar of the synthetic world: text-to-video-like prompts that parse back into attributes.

A prompt names a subject (count, colour, shape), an action, a scene (background pattern and day/night tint)
and optionally a camera movement, e.g. "Two blue squares move left on a noisy background at night, the
camera pans right." Two constraints keep every attribute visible in pixels: a circle never rotates (a turning
circle looks still) and a camera phrase only goes with the noisy (2-D textured) background (a pan over a
plain or gradient wall cannot be seen, and one over diagonal stripes cannot tell a pan from a tilt).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

COLORS: tuple[str, ...] = ("red", "orange", "yellow", "green", "blue", "purple")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
COUNTS: tuple[int, ...] = (1, 2, 3)
ACTIONS: tuple[str, ...] = (
    "moves left", "moves right", "moves up", "moves down", "bounces", "rotates", "grows", "stays still",
)
BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "striped", "noisy")
TINTS: tuple[str, ...] = ("day", "night")
CAMERAS: tuple[str, ...] = ("pans left", "pans right", "tilts up", "tilts down")
TEXTURED_BACKGROUNDS: tuple[str, ...] = ("noisy",)
# Actions with a direction that can be wrong (grows/rotates have a sense, bounce an axis).
DIRECTED_ACTIONS: tuple[str, ...] = ACTIONS[:-1]

# "moves left" -> "two ... move left": every verb of the grammar drops its final "s".
_PLURAL_VERBS = {a: a.split(" ")[0][:-1] + a[len(a.split(" ")[0]):] for a in ACTIONS}
_COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
_WORD_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_TINT_PHRASES = {"day": "in daylight", "night": "at night"}
_PHRASE_TINTS = {v: k for k, v in _TINT_PHRASES.items()}


class PromptError(ValueError):
    """A prompt text or attribute set outside the grammar."""


@dataclass(frozen=True)
class PromptAttrs:
    """The attributes of one prompt; `text` renders it, `parse_prompt` recovers it."""

    color: str
    shape: str
    count: int
    action: str
    background: str
    tint: str
    camera: str | None = None

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("color", self.color, COLORS),
            ("shape", self.shape, SHAPES),
            ("count", self.count, COUNTS),
            ("action", self.action, ACTIONS),
            ("background", self.background, BACKGROUNDS),
            ("tint", self.tint, TINTS),
        ):
            if value not in allowed:
                raise PromptError(f"prompt field {field}={value!r} is not one of {allowed}")
        if self.camera is not None and self.camera not in CAMERAS:
            raise PromptError(f"prompt field camera={self.camera!r} is not one of {CAMERAS} or None")
        if self.shape == "circle" and self.action == "rotates":
            raise PromptError("a rotating circle is invisible: the grammar has no 'circle rotates'")
        if self.camera is not None and self.background not in TEXTURED_BACKGROUNDS:
            raise PromptError(f"a camera phrase needs a textured background {TEXTURED_BACKGROUNDS}")

    @property
    def text(self) -> str:
        plural = self.count > 1
        noun = self.shape + ("s" if plural else "")
        verb = _PLURAL_VERBS[self.action] if plural else self.action
        subject = f"{_COUNT_WORDS[self.count]} {self.color} {noun}"
        text = f"{subject} {verb} on a {self.background} background {_TINT_PHRASES[self.tint]}"
        if self.camera is not None:
            text += f", the camera {self.camera}"
        return text[0].upper() + text[1:] + "."

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in words)


_SINGULAR_VERBS = {a: a for a in ACTIONS}
_VERBS_BY_PLURAL = {v: k for k, v in _PLURAL_VERBS.items()}
_PROMPT_RE = re.compile(
    rf"^(?P<count>{_alternation(tuple(_WORD_COUNTS))}) (?P<color>{_alternation(COLORS)}) "
    rf"(?P<shape>{_alternation(SHAPES)})(?P<plural>s?) "
    rf"(?P<verb>{_alternation(tuple(_SINGULAR_VERBS) + tuple(_VERBS_BY_PLURAL))}) "
    rf"on an? (?P<background>{_alternation(BACKGROUNDS)}) background "
    rf"(?P<tint>{_alternation(tuple(_PHRASE_TINTS))})"
    rf"(?:, the camera (?P<camera>{_alternation(CAMERAS)}))?\.?$",
    re.IGNORECASE,
)


def parse_prompt(text: str) -> PromptAttrs:
    """Parse a prompt of the grammar back into its attributes (case and the final full stop are ignored)."""
    match = _PROMPT_RE.match(text.strip())
    if match is None:
        raise PromptError(f"prompt is outside the synthetic grammar: {text!r}")
    parts = {k: (v.lower() if isinstance(v, str) else v) for k, v in match.groupdict().items()}
    count = _WORD_COUNTS[parts["count"]]
    if (count > 1) != (parts["plural"] == "s"):
        raise PromptError(f"prompt count and noun number disagree: {text!r}")
    verbs = _VERBS_BY_PLURAL if count > 1 else _SINGULAR_VERBS
    if parts["verb"] not in verbs:
        raise PromptError(f"prompt verb {parts['verb']!r} does not agree with the count: {text!r}")
    return PromptAttrs(
        color=parts["color"], shape=parts["shape"], count=count, action=verbs[parts["verb"]],
        background=parts["background"], tint=_PHRASE_TINTS[parts["tint"]], camera=parts["camera"],
    )


def as_attrs(prompt: PromptAttrs | str) -> PromptAttrs:
    """Accept either attributes or a prompt text."""
    return prompt if isinstance(prompt, PromptAttrs) else parse_prompt(prompt)


def sample_prompt(rng: np.random.Generator, camera_probability: float = 0.6) -> PromptAttrs:
    """Draw one prompt uniformly over the grammar's choices (camera phrase with the given probability)."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    actions = [a for a in ACTIONS if not (shape == "circle" and a == "rotates")]
    background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    camera = None
    if background in TEXTURED_BACKGROUNDS and rng.random() < camera_probability:
        camera = CAMERAS[rng.integers(len(CAMERAS))]
    return PromptAttrs(
        color=COLORS[rng.integers(len(COLORS))], shape=shape, count=COUNTS[rng.integers(len(COUNTS))],
        action=actions[rng.integers(len(actions))], background=background,
        tint=TINTS[rng.integers(len(TINTS))], camera=camera,
    )


def sample_prompts(n: int, seed: int) -> list[PromptAttrs]:
    """`n` distinct prompts, deterministic per seed."""
    if n < 1:
        raise PromptError(f"n_prompts must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    seen: dict[str, PromptAttrs] = {}
    attempts = 0
    while len(seen) < n:
        attempts += 1
        if attempts > 100 * n + 1000:
            raise PromptError(f"cannot draw {n} distinct prompts from the grammar")
        attrs = sample_prompt(rng)
        seen.setdefault(attrs.text, attrs)
    return list(seen.values())
