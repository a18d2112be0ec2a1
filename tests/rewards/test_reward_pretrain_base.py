"""The tiny-base recipe: captions say what the renderer drew, a few captioning steps lower the loss, and the
saved base loads through the reward model's own from_pretrained path and scores a clip."""
import json

import numpy as np
import torch
from transformers import Qwen2VLForConditionalGeneration

from rewards.captions import describe, level, visible_action, visible_caption, visible_colour
from rewards.config import ModelConfig
from rewards.network import RewardNetwork
from rewards.pretrain_base import INFO_FILE, base_video_config, clip_specs, ensure_pretrained_base
from rewards.video_input import patchify, sample_frames
from synthetic.defects import Defects
from synthetic.prompts import parse_prompt
from tests.rewards.conftest import TINY_PRETRAIN as TINY

PROMPT = parse_prompt("Two red squares move left on a plain background in daylight.")


def test_levels_split_severity_at_the_documented_points():
    assert [level(s) for s in (0.0, 0.099, 0.1, 0.299, 0.3, 0.5, 0.69, 0.7, 1.0)] == [
        "none", "none", "faint", "faint", "mild", "strong", "strong", "severe", "severe"]


def test_visible_attributes_follow_the_renderers_rules():
    # Hue of red 0° turned by 180°·s: 1.0 → 180°, nearest palette hue is blue (220°, 40° away; green is 55°).
    assert visible_colour(PROMPT, Defects(wrong_color=1.0)) == "blue"
    assert visible_colour(PROMPT, Defects(wrong_color=0.3)) == "yellow"  # 54°, yellow is 55°
    # "moves left" turned by 180°·s: 1.0 → right, 0.5 → 270° = up (y points down on screen).
    assert visible_action(PROMPT, Defects(wrong_direction=1.0)) == "move right"
    assert visible_action(PROMPT, Defects(wrong_direction=0.5)) == "move up"
    assert visible_action(PROMPT, Defects(frozen=0.8)) == "stay still"
    assert visible_caption(PROMPT, Defects(wrong_count=0.6, wrong_shape=0.6, wrong_background=0.9)) == (
        "three red triangles move left on a striped background at night.")
    assert visible_caption(PROMPT, Defects(missing_subject=0.9)) == "nothing on a plain background in daylight."


def test_defects_that_cannot_show_are_described_as_none():
    still = parse_prompt("A blue circle stays still on a plain background at night.")
    caption = describe(still, Defects(frozen=0.9, wrong_direction=0.9, ignored_camera=0.9, blur=0.4))
    assert caption.visual == "blur mild, noise none, blocks none, contrast none, pixels none."
    assert "frozen none" in caption.motion
    assert "direction none" in caption.alignment and "camera none" in caption.alignment
    # The same severities on a moving prompt with a camera move do show.
    moving = parse_prompt("A blue circle moves up on a noisy background at night, the camera pans left.")
    caption = describe(moving, Defects(frozen=0.9, wrong_direction=0.9, ignored_camera=0.9))
    assert "frozen severe" in caption.motion
    assert "direction severe" in caption.alignment and "camera severe" in caption.alignment


def test_layout_puts_what_is_seen_before_the_prompt_and_opens_each_dimension_with_its_flaw_total():
    moving = parse_prompt("A blue circle moves up on a noisy background at night, the camera pans left.")
    # blur 0.4 → mild (2), noise 0.75 → severe (4); jitter 0.15 → faint (1); colour 0.35 → mild (2).
    caption = describe(moving, Defects(blur=0.4, noise=0.75, jitter=0.15, wrong_color=0.35))
    assert caption.totals == (6, 1, 2)
    pieces = caption.pieces(moving.text)
    texts = [t for t, _ in pieces]
    assert texts.index(" Seen:") < texts.index(" Prompt: ") < texts.index(" Text alignment:")
    assert pieces[1] == (" 6 blur mild, noise severe, blocks none, contrast none, pixels none.", True)
    assert pieces[texts.index(" Prompt: ") + 1] == (moving.text, False)  # the prompt is context, never target
    # Defects that cannot show add nothing to the total: a still prompt without a camera move.
    still = parse_prompt("A blue circle stays still on a plain background at night.")
    assert describe(still, Defects(frozen=1.0, wrong_direction=1.0, ignored_camera=1.0)).totals == (0, 0, 0)


def test_a_few_captioning_steps_lower_the_loss(pretrained_tiny_base):
    _, result, losses = pretrained_tiny_base
    assert result.steps == 12 and len(losses) == 12
    # Four training clips, seen 12 times: the loss must fall well below its start (ln(vocab) ≈ 6).
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    info = json.loads((result.directory / INFO_FILE).read_text())
    assert info["key"] == TINY.key() and info["result"]["steps"] == 12


def test_saved_base_loads_through_the_reward_models_path(pretrained_tiny_base):
    root, result, _ = pretrained_tiny_base
    base = result.directory
    assert base_video_config(base) == TINY.video_config()
    network = RewardNetwork.from_base(base, ModelConfig())
    # The backbone is the trained captioner, not a fresh random model: weights equal the saved ones.
    saved = Qwen2VLForConditionalGeneration.from_pretrained(base)
    assert torch.equal(network.backbone.visual.patch_embed.proj.weight, saved.model.visual.patch_embed.proj.weight)
    clip = sample_frames(root / "clips" / "00000.mp4", TINY.video_config())
    assert clip.frames.shape == (4, 56, 56, 3)  # every rendered frame, at the rendered size
    inputs = network.encode([patchify(clip.frames, TINY.video_config())], [clip_specs(TINY)[0].prompt])
    with torch.no_grad():
        rewards = network(inputs)
    assert rewards.shape == (1, 3) and torch.isfinite(rewards).all()


def test_cached_base_is_reused_not_retrained(pretrained_tiny_base):
    _, result, _ = pretrained_tiny_base
    weights = result.directory / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert ensure_pretrained_base(TINY, root=result.directory) == result.directory
    assert weights.stat().st_mtime_ns == before
