"""pretrain-base: a few steps on a handful of tiny clips lower the loss, and the saved directory loads."""
import json

import numpy as np
import pytest
import torch

from alignment.cli import main
from alignment.config import ConfigError
from alignment.generator import load_generator
from alignment.world.clips import (
    ClipSetConfig,
    heldout_prompts,
    is_heldout,
    load_or_render,
    train_prompts,
)
from alignment.world.grammar_text import build_grammar_tokenizer, encode_with_grad
from alignment.world.pretrain import PretrainConfig, pretrain

TINY = dict(num_layers=1, num_attention_heads=2, attention_head_dim=8, ffn_dim=16, text_dim=16, batch_size=8,
            learning_rate=3e-3, warmup_steps=5, log_every=10, threads=1)


def test_grammar_tokenizer_has_a_token_for_every_word():
    tok = build_grammar_tokenizer()
    ids = tok("Two blue squares move left on a noisy background at night, the camera pans right.").input_ids
    assert tok.unk_token_id not in ids and ids[-1] == tok.eos_token_id and len(ids) == 18
    # "left" and "right" are single tokens; the same word has the same id after "move" and after "pans"
    assert ids.count(tok.convert_tokens_to_ids("right")) == 1
    assert tok("").input_ids == [tok.eos_token_id]


def test_prompt_split_is_disjoint():
    held = heldout_prompts(20)
    assert all(is_heldout(p) for p in held) and len(set(held)) == 20
    assert not any(is_heldout(p) for p in train_prompts(200, seed=3))


def test_a_few_steps_lower_the_loss_and_the_model_loads(tmp_path):
    clip_cfg = ClipSetConfig(n_clips=24, frames=2, size=16)
    clips = load_or_render(clip_cfg, tmp_path / "cache")
    assert clips.frames.shape == (24, 2, 16, 16, 3) and (tmp_path / "cache" / f"clips-{clip_cfg.key()}.npz").exists()
    config = PretrainConfig(clips=clip_cfg, steps=60, **TINY)
    result = pretrain(config, clips, tmp_path / "model")
    first, last = result.history[0]["loss"], result.history[-1]["loss"]
    assert last < 0.8 * first, result.history
    generator = load_generator(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "generator.json").read_text())
    assert meta["codec"]["kind"] == "chroma_unshuffle" and meta["clip"]["height"] == 16
    # the pipeline's prompt encoding (used for sampling) equals the differentiable one used in training
    prompts = [clips.prompts[0], ""]
    with torch.no_grad():
        ours = encode_with_grad(generator.pipe.tokenizer, generator.pipe.text_encoder, prompts, 20)
    assert torch.equal(generator.encode_prompts(prompts), ours)


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="do not tile"):
        PretrainConfig(clips=ClipSetConfig(n_clips=2, frames=3, size=20))
    with pytest.raises(ValueError, match="unknown generator profile"):
        ClipSetConfig(profiles=("nope",))


def test_cli_rejects_an_unknown_config_field(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"stepz": 3}))
    code = main(["pretrain-base", "--out", str(tmp_path / "m"), "--config", str(config)])
    assert code == 2 and "stepz" in capsys.readouterr().err


def test_clip_set_is_deterministic(tmp_path):
    cfg = ClipSetConfig(n_clips=3, frames=2, size=16, seed=4)
    a = load_or_render(cfg, tmp_path / "a")
    b = load_or_render(cfg, tmp_path / "b")
    assert np.array_equal(a.frames, b.frames) and a.prompts == b.prompts


def test_chroma_codec_keeps_luma_exactly_and_averages_chroma_over_2x2():
    from alignment.codec import ChromaUnshuffleCodec, codec_from_spec

    codec = codec_from_spec(ChromaUnshuffleCodec(4).spec(), None)
    grey = torch.linspace(-0.9, 0.9, 2 * 3 * 8 * 8).view(2, 1, 3, 8, 8).expand(2, 3, 3, 8, 8).reshape(1, 3, 6, 8, 8)
    z = codec.encode(grey)
    assert z.shape == (1, 24, 6, 2, 2) and codec.latent_shape(6, 8, 8) == (24, 6, 2, 2)
    assert torch.allclose(codec.decode(z), grey, atol=1e-5)  # grey has no chroma: exact
    # a pure-red 2×2 block next to a grey one: chroma is the block mean, luma per pixel
    video = torch.zeros(1, 3, 1, 4, 4)
    video[0, 0, 0, :2, :2] = 1.0
    decoded = codec.decode(codec.encode(video))
    assert torch.allclose(decoded, video, atol=1e-5)
    assert torch.allclose(codec.encode(decoded), codec.encode(video), atol=1e-5)
