"""Caption texts for pretraining the tiny base VLM: what a synthetic clip visibly shows, in words.

A real Qwen2-VL already knows colours, shapes, motion and image quality; the tiny one learns them here by
predicting these texts from the clip. Everything described is computed from the renderer's inputs (prompt
attributes and defect severities, read through ``synthetic``) — never from annotator labels or oracle
utilities, whose weights the reward model still has to learn from judgements.

The text follows the reward model's template (``rewards.template``: video, " Visual quality:", " Motion
quality:", the prompt, " Text alignment:"), so that the reward tokens sit where the captioner learnt to
describe that dimension::

    Visual quality: 5 blur mild, noise none, ... Motion quality: 0 jitter none, ... Seen: two green
    squares move left on a noisy background at night, the camera pans right. Prompt: {prompt}
    Text alignment: 3 colour none, shape strong, ...

Why this layout (the first recipe, with the caption after the prompt, learnt mostly to copy the prompt and
its level words never beat the "none" majority): every target is something only the video tells —
the description of what is seen comes *before* the prompt, so it cannot be copied from it; the prompt is
context for the alignment levels (binding what is seen to what was asked). Each dimension opens with its
*flaw total*, the unweighted sum of its level indices (0 = clean, up to 4 × the number of defects): a
generic "how bad does it look" summary, predicted at the position right before the reward token, so the
captioner's hidden state there already gathers that dimension's evidence. It weighs every defect
alike — the oracle's weights, and which defects matter more, are still for the reward model to learn
from judgements.

Each defect gets one of ``LEVELS`` (severity in fifths). A defect that cannot show in a clip of this prompt
(freezing a still subject, a wrong direction without one, ignoring an absent camera move) is "none": the
captioner describes pixels, and those pixels do not change.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from synthetic.defects import MQ_DEFECTS, TA_DEFECTS, VQ_DEFECTS, Defects
from synthetic.oracle import relevant
from synthetic.prompts import PromptAttrs
from synthetic.render import CONFUSED_BACKGROUND, CONFUSED_SHAPE, PALETTE_HUES

LEVELS: tuple[str, ...] = ("none", "faint", "mild", "strong", "severe")
LEVEL_STARTS: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
# Short words for the defects, one vocabulary item each in the tiny tokenizer.
DEFECT_WORDS: dict[str, str] = {
    "blur": "blur", "noise": "noise", "blockiness": "blocks", "low_contrast": "contrast", "pixelation": "pixels",
    "jitter": "jitter", "stutter": "stutter", "teleport": "jumps", "flicker": "flicker", "frozen": "frozen",
    "wrong_color": "colour", "wrong_shape": "shape", "wrong_direction": "direction", "wrong_count": "count",
    "missing_subject": "missing", "wrong_background": "background", "ignored_camera": "camera",
}
_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
_DIRECTIONS = {"right": 0.0, "down": 90.0, "left": 180.0, "up": 270.0}
_MOVE_DIRECTION = {"moves right": "right", "moves down": "down", "moves left": "left", "moves up": "up"}


def level(severity: float) -> str:
    """Severity in [0, 1] → one of LEVELS: below 0.1 none, then from 0.1, 0.3, 0.5 and 0.7 up."""
    return LEVELS[bisect_right(LEVEL_STARTS, severity)]


def _shown_levels(defects: Defects, names: tuple[str, ...], attrs: PromptAttrs) -> list[str]:
    return [level(getattr(defects, n) if relevant(n, attrs) else 0.0) for n in names]


def _levels(defects: Defects, names: tuple[str, ...], attrs: PromptAttrs) -> str:
    parts = [f"{DEFECT_WORDS[n]} {lv}" for n, lv in zip(names, _shown_levels(defects, names, attrs), strict=True)]
    return ", ".join(parts) + "."


def flaw_total(defects: Defects, names: tuple[str, ...], attrs: PromptAttrs) -> int:
    """The unweighted sum of the shown level indices (none 0 … severe 4) over ``names``."""
    return sum(LEVELS.index(lv) for lv in _shown_levels(defects, names, attrs))


def visible_colour(attrs: PromptAttrs, defects: Defects) -> str:
    """The palette colour nearest to the rendered hue (the renderer turns the hue by 180°·wrong_color)."""
    hue = (PALETTE_HUES[attrs.color] + 180.0 * defects.wrong_color) % 360.0
    return min(PALETTE_HUES, key=lambda name: min(abs(PALETTE_HUES[name] - hue), 360 - abs(PALETTE_HUES[name] - hue)))


def visible_action(attrs: PromptAttrs, defects: Defects) -> str:
    """What the subject visibly does, in the third person plural-agnostic form ("move left", "shrink")."""
    if attrs.action == "stays still" or defects.frozen >= 0.7:
        return "stay still"
    wrong = defects.wrong_direction
    if attrs.action in _MOVE_DIRECTION:
        angle = (_DIRECTIONS[_MOVE_DIRECTION[attrs.action]] + 180.0 * wrong) % 360.0
        name = min(_DIRECTIONS, key=lambda d: min(abs(_DIRECTIONS[d] - angle), 360 - abs(_DIRECTIONS[d] - angle)))
        return f"move {name}"
    if attrs.action == "bounces":
        return "bounce sideways" if wrong >= 0.5 else "bounce"
    if attrs.action == "rotates":
        return "rotate backwards" if wrong >= 0.5 else "rotate"
    return "shrink" if wrong >= 0.5 else "grow"


def visible_caption(attrs: PromptAttrs, defects: Defects) -> str:
    """One sentence of what the clip shows: subjects, action, scene and camera, after the defects."""
    if defects.missing_subject >= 0.7:
        subject = "nothing"
    else:
        count = attrs.count + (1 if defects.wrong_count >= 0.5 else 0)
        shape = CONFUSED_SHAPE[attrs.shape] if defects.wrong_shape >= 0.5 else attrs.shape
        subject = f"{_COUNT_WORDS[count]} {visible_colour(attrs, defects)} {shape}{'s' if count > 1 else ''}"
        subject += f" {visible_action(attrs, defects)}"
    background, tint = attrs.background, attrs.tint
    if defects.wrong_background >= 0.5:
        background, tint = CONFUSED_BACKGROUND[background], ("night" if tint == "day" else "day")
    text = f"{subject} on a {background} background {'in daylight' if tint == 'day' else 'at night'}"
    if attrs.camera is not None and defects.ignored_camera < 0.5:
        text += f", the camera {attrs.camera}"
    return text + "."


@dataclass(frozen=True)
class Caption:
    """The described parts; ``pieces`` lays them out with the prompt (which is input, not target)."""

    visual: str
    motion: str
    alignment: str
    caption: str
    totals: tuple[int, int, int] = (0, 0, 0)  # flaw totals of VQ, MQ, TA
    # Per dimension, each defect's shown level index (none 0 … severe 4), in VQ_/MQ_/TA_DEFECTS order.
    levels: tuple[tuple[int, ...], ...] = ((), (), ())

    def pieces(self, prompt: str) -> list[tuple[str, bool]]:
        """(text, is_target) in sequence order; the prompt and the field names are context."""
        vq, mq, ta = self.totals
        return [(" Visual quality:", False), (f" {vq} {self.visual}", True),
                (" Motion quality:", False), (f" {mq} {self.motion}", True),
                (" Seen:", False), (f" {self.caption}", True),
                (" Prompt: ", False), (prompt, False),
                (" Text alignment:", False), (f" {ta} {self.alignment}", True)]


def describe(attrs: PromptAttrs, defects: Defects) -> Caption:
    levels = tuple(tuple(LEVELS.index(lv) for lv in _shown_levels(defects, names, attrs))
                   for names in (VQ_DEFECTS, MQ_DEFECTS, TA_DEFECTS))
    return Caption(
        visual=_levels(defects, VQ_DEFECTS, attrs),
        motion=_levels(defects, MQ_DEFECTS, attrs),
        alignment=_levels(defects, TA_DEFECTS, attrs),
        caption=visible_caption(attrs, defects),
        totals=tuple(flaw_total(defects, names, attrs) for names in (VQ_DEFECTS, MQ_DEFECTS, TA_DEFECTS)),
        levels=levels,
    )
