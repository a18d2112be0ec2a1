"""The base recipe's levers: the restricted "simple" grammar, word-embedding conditioning (a 0-layer encoder),
uniform σ sampling, and the judge's calibration cache keyed by analyser version and geometry."""
import hashlib
import json

import numpy as np
import pytest
import torch

from alignment.config import ConfigError
from alignment.world import judge
from alignment.world.clips import (
    LINEAR_MOTIONS,
    ClipSetConfig,
    ClipSetError,
    heldout_prompts,
    is_heldout,
    load_or_render,
    model_grammar,
    train_prompts,
)
from alignment.world.grammar_text import build_grammar_text_encoder, build_grammar_tokenizer, encode_with_grad
from alignment.world.pretrain import PretrainConfig, pretrain

TINY = dict(num_layers=1, num_attention_heads=2, attention_head_dim=8, ffn_dim=16, text_dim=16, batch_size=8,
            learning_rate=3e-3, warmup_steps=5, log_every=10, threads=1)


def test_simple_grammar_has_one_subject_linear_motion_and_no_camera():
    from synthetic.prompts import parse_prompt

    prompts = train_prompts(300, seed=5, grammar="simple")
    attrs = [parse_prompt(p) for p in prompts]
    assert all(a.count == 1 and a.action in LINEAR_MOTIONS and a.camera is None for a in attrs)
    # every colour, shape, motion and background still occurs
    assert {a.color for a in attrs} == {"red", "orange", "yellow", "green", "blue", "purple"}
    assert {a.shape for a in attrs} == {"circle", "square", "triangle", "star"}
    assert {a.action for a in attrs} == set(LINEAR_MOTIONS)
    assert {a.background for a in attrs} == {"plain", "gradient", "striped", "noisy"}
    held = heldout_prompts(50, grammar="simple")
    assert len(set(held)) == 50 and all(is_heldout(p) for p in held)
    assert not set(held) & set(prompts)
    assert all(parse_prompt(p).count == 1 and parse_prompt(p).camera is None for p in held)


def test_simple_grammar_runs_out_of_heldout_prompts_with_a_clear_error():
    # 6 colours × 4 shapes × 4 motions × 4 backgrounds × 2 tints = 768 prompts, ~15% held out
    with pytest.raises(ClipSetError, match="fewer than 400 held-out prompts"):
        heldout_prompts(400, grammar="simple")
    with pytest.raises(ClipSetError, match="unknown grammar"):
        ClipSetConfig(grammar="tiny")


def test_clip_set_key_of_the_full_grammar_is_unchanged():
    # sets cached before grammars existed keep their file names
    cfg = ClipSetConfig(n_clips=10)
    old = {"n_clips": 10, "frames": 8, "size": 40, "fps": 8.0, "profiles": list(cfg.profiles), "seed": 0}
    assert cfg.key() == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:12]
    assert ClipSetConfig(n_clips=10, grammar="simple").key() != cfg.key()
    assert ClipSetConfig(n_clips=10, centre_jitter=0.15).key() != cfg.key()


def test_zero_layer_encoder_is_a_table_of_normalised_word_embeddings():
    tok = build_grammar_tokenizer()
    enc = build_grammar_text_encoder(len(tok), dim=16, num_layers=0).eval()
    prompts = ["A red star moves left on a plain background in daylight.", "A blue star moves up on a plain "
               "background at night.", ""]
    with torch.no_grad():
        out = encode_with_grad(tok, enc, prompts, 16)
        again = encode_with_grad(tok, enc, prompts, 16)
    assert out.shape == (3, 16, 16) and torch.equal(out, again)
    ids = tok(prompts, padding="max_length", max_length=16).input_ids
    table = enc.get_input_embeddings().weight.detach()
    gamma = enc.encoder.final_layer_norm.weight.detach()
    for row, row_ids in zip(out, ids, strict=True):
        n = sum(i != tok.pad_token_id for i in row_ids)
        e = table[torch.tensor(row_ids[:n])]
        expected = gamma * e / torch.sqrt(e.pow(2).mean(-1, keepdim=True) + enc.config.layer_norm_epsilon)
        assert torch.allclose(row[:n], expected, atol=1e-5)
        assert not row[n:].any()  # padding zeroed as WanPipeline does
    # the same word gives the same vector wherever it stands (no context: a learned attribute embedding)
    star = tok.convert_tokens_to_ids("star")
    assert torch.equal(out[0, ids[0].index(star)], out[1, ids[1].index(star)])


def test_pretrain_with_word_embeddings_uniform_sigma_and_simple_grammar(tmp_path):
    from alignment.generator import load_generator

    clip_cfg = ClipSetConfig(n_clips=16, frames=2, size=16, grammar="simple")
    clips = load_or_render(clip_cfg, tmp_path / "cache")
    config = PretrainConfig(clips=clip_cfg, steps=40, text_layers=0, sigma_sampling="uniform", **TINY)
    result = pretrain(config, clips, tmp_path / "model")
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    generator = load_generator(tmp_path / "model")
    assert generator.pipe.text_encoder.config.num_layers == 0
    assert model_grammar(tmp_path / "model") == "simple"
    assert model_grammar(tmp_path / "nowhere") == "full"


def test_pretrain_config_rejects_an_unknown_sigma_sampling_and_negative_text_layers():
    with pytest.raises(ConfigError, match="sigma_sampling"):
        PretrainConfig(sigma_sampling="cosine")
    with pytest.raises(ConfigError, match="text_layers"):
        PretrainConfig(text_layers=-1)
    with pytest.raises(ConfigError, match="train_shift"):
        PretrainConfig(train_shift=0.0)


def _fake_fit(calls):
    def calibration_clips(n, seed):
        calls.append(n)
        return ["clip"]

    return {
        "calibration_clips": calibration_clips,
        "measure_clips": lambda clips, config, workers: [{"m": 1.0}],
        "fit": lambda clips, measured: {"tie_threshold": {"VQ": 0.5}, "weights": []},
    }


def test_judge_calibration_cache_is_keyed_by_analyser_version_and_geometry(tmp_path, monkeypatch):
    import synthetic.analyser
    import synthetic.calibrate

    calls: list[int] = []
    for name, fn in _fake_fit(calls).items():
        monkeypatch.setattr(synthetic.calibrate, name, fn)
    monkeypatch.setattr(judge, "_calibrations", {})
    monkeypatch.setattr(synthetic.analyser, "ANALYSER_VERSION", 7, raising=False)
    first = judge.calibration_for(8, 40, tmp_path)
    assert calls == [judge.CALIBRATION_CLIPS] and first["fitted_on"]["analyser_version"] == 7
    assert (tmp_path / judge.calibration_filename(8, 40, 7)).is_file()
    # cached: neither refitted in this process nor in a new one (the file is read back)
    judge.calibration_for(8, 40, tmp_path)
    monkeypatch.setattr(judge, "_calibrations", {})
    assert judge.calibration_for(8, 40, tmp_path) == first and len(calls) == 1
    # another geometry or a new analyser refits
    judge.calibration_for(8, 32, tmp_path)
    monkeypatch.setattr(synthetic.analyser, "ANALYSER_VERSION", 8, raising=False)
    judge.calibration_for(8, 40, tmp_path)
    assert len(calls) == 3 and (tmp_path / judge.calibration_filename(8, 40, 8)).is_file()
    assert len({judge.calibration_filename(8, 40, v) for v in (7, 8)} | {judge.calibration_filename(8, 32, 7)}) == 3


def test_a_rendered_clip_survives_the_codec_and_is_read_correctly():
    # the gate's upper bound: a clean training-style clip, through the latent space and back, still shows its
    # prompt to the analyser (judged at the analyser's own 16×64² geometry, with its shipped calibration)
    from alignment.codec import ChromaUnshuffleCodec
    from alignment.sampling import to_uint8_frames
    from alignment.world.pretrain import clips_to_video
    from synthetic.render import RenderConfig, render_frames

    codec = ChromaUnshuffleCodec(4)
    prompt = "A green triangle moves up on a striped background in daylight."
    frames = render_frames(prompt, seed=3, config=RenderConfig(frames=16, size=64))
    z = codec.encode(clips_to_video(frames[None]))
    assert z.shape == (1, 24, 16, 16, 16)
    back = to_uint8_frames(codec.decode(z))[0]
    # only chroma is averaged over 2×2 pixels: large errors at colour edges only, small on average
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 2.0
    assert torch.allclose(codec.encode(codec.decode(z)), z, atol=1e-5)  # exact on its own image
    match = judge.analyse(back, prompt).prompt_match
    assert match["color"] and match["shape"] and match["action"]
