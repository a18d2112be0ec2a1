"""The learned per-frame latent space of the tiny base: the codec's shapes and normalisation, save → load, the
subject-weighted loss, training that learns, and a pretrained model directory that carries its autoencoder."""
import json

import numpy as np
import pytest
import torch

from alignment.codec import CodecConfigError, codec_from_spec
from alignment.config import ConfigError
from alignment.frame_autoencoder import FrameAutoencoder, FrameAutoencoderCodec, FrameAutoencoderConfig
from alignment.world.autoencoder import (
    AutoencoderTrainConfig,
    frames_tensor,
    set_latent_stats,
    subject_weights,
    train_frame_autoencoder,
)
from alignment.world.clips import ClipSetConfig, load_or_render
from alignment.world.pretrain import PretrainConfig, clips_to_video, pretrain


def _clips(n: int = 6, frames: int = 3, size: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, frames, size, size, 3), dtype=np.uint8)


def test_codec_codes_each_frame_alone_at_a_quarter_of_the_side():
    torch.manual_seed(0)
    codec = FrameAutoencoderCodec(FrameAutoencoder(FrameAutoencoderConfig(width=4, latent_channels=3, levels=2)))
    video = clips_to_video(_clips(2, 4, 16))
    z = codec.encode(video)
    assert z.shape == (2, 3, 4, 4, 4) and codec.latent_shape(4, 16, 16) == (3, 4, 4, 4)
    # frame order in, frame order out: no frame's code depends on another frame
    assert torch.allclose(codec.encode(video.flip(2)), z.flip(2), atol=1e-6)
    assert codec.decode(z).shape == video.shape
    with pytest.raises(CodecConfigError, match="divisible by 4"):
        codec.latent_shape(4, 18, 16)


def test_latents_are_normalised_by_the_training_clips_statistics():
    torch.manual_seed(0)
    model = FrameAutoencoder(FrameAutoencoderConfig(width=4, latent_channels=3, levels=1))
    clips = _clips(8, 2, 8)
    set_latent_stats(model, clips)
    raw = model.encode(frames_tensor(clips).flatten(0, 1)).detach()  # [16, 3, 4, 4], un-normalised
    z = FrameAutoencoderCodec(model).encode(clips_to_video(clips))
    per_channel = z.permute(1, 0, 2, 3, 4).reshape(3, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(per_channel.std(1), torch.ones(3), atol=1e-4)
    assert np.allclose(model.config.latents_mean, raw.mean(dim=(0, 2, 3)).numpy(), atol=1e-5)


def test_save_load_round_trip_and_a_swapped_weight_file_is_refused(tmp_path):
    torch.manual_seed(0)
    model = FrameAutoencoder(FrameAutoencoderConfig(width=4, latent_channels=2, levels=1,
                                                    latents_mean=[0.5, -0.5], latents_std=[2.0, 0.5]))
    codec = FrameAutoencoderCodec(model, path="ae")
    model.save_pretrained(tmp_path / "ae")
    loaded = codec_from_spec(codec.spec(), None, tmp_path)
    z = torch.randn(1, 2, 3, 4, 4)
    assert torch.equal(loaded.decode(z), codec.decode(z))
    other = FrameAutoencoder(FrameAutoencoderConfig(width=4, latent_channels=2, levels=1))
    other.save_pretrained(tmp_path / "ae")
    with pytest.raises(CodecConfigError, match="differ"):
        codec_from_spec(codec.spec(), None, tmp_path)
    with pytest.raises(CodecConfigError, match="cannot load"):
        codec_from_spec({"kind": "frame_autoencoder", "path": "missing"}, None, tmp_path)
    with pytest.raises(CodecConfigError, match="latents_std"):
        FrameAutoencoderConfig(latent_channels=2, latents_mean=[0, 0], latents_std=[1.0, 0.0])


def test_moving_subject_pixels_weigh_more_and_weights_average_one():
    # a 2-frame 4×4 grey clip whose single bright pixel moves from (0, 0) to (3, 3)
    clip = np.full((1, 3, 4, 4, 3), 100, np.uint8)
    clip[0, 0, 0, 0] = 255
    clip[0, 1, 3, 3] = 255
    weight = subject_weights(frames_tensor(clip), subject_weight=9.0)
    # the median over 3 frames is the grey background everywhere; 2 subject pixels of 48 weigh 10, the rest 1
    mean = (2 * 10 + 46 * 1) / 48
    expected = torch.full((1, 3, 1, 4, 4), 1 / mean)
    expected[0, 0, 0, 0, 0] = expected[0, 1, 0, 3, 3] = 10 / mean
    assert torch.allclose(weight, expected)


def test_training_on_rendered_clips_reconstructs_them_better(tmp_path):
    clips = load_or_render(ClipSetConfig(n_clips=24, frames=4, size=16, grammar="simple"), tmp_path).frames
    config = AutoencoderTrainConfig(width=8, latent_channels=4, steps=80, batch_size=4, warmup_steps=5,
                                    learning_rate=3e-3, log_every=20)

    def error(model: FrameAutoencoder) -> float:
        x = frames_tensor(clips).flatten(0, 1)
        with torch.no_grad():
            return float((model.decode(model.encode(x)) - x).pow(2).mean())

    torch.manual_seed(0)
    untrained = FrameAutoencoder(config.model_config())
    model, history = train_frame_autoencoder(config, clips)
    assert [row["step"] for row in history] == [20, 40, 60, 80]
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert error(model) < 0.5 * error(untrained)
    stopped, history = train_frame_autoencoder(config, clips, stop=lambda: True)  # a spent budget stops it
    assert history == [] and stopped.config.latents_std


def test_pretrain_with_a_frame_autoencoder_saves_a_loadable_generator(tmp_path):
    from alignment.generator import load_generator
    from alignment.sampling import decode_latents

    clip_cfg = ClipSetConfig(n_clips=12, frames=2, size=16, grammar="simple")
    clips = load_or_render(clip_cfg, tmp_path / "cache")
    config = PretrainConfig(
        clips=clip_cfg, steps=4, codec="frame_autoencoder", patch_size=(1, 1, 1), num_layers=1, subject_weight=5.0,
        train_shift=3.0,
        num_attention_heads=2, attention_head_dim=8, ffn_dim=16, text_dim=16, text_layers=0, batch_size=4,
        log_every=2, threads=1, autoencoder={"width": 4, "latent_channels": 4, "steps": 3, "batch_size": 2})
    result = pretrain(config, clips, tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "generator.json").read_text())
    assert meta["codec"]["kind"] == "frame_autoencoder"
    assert json.loads((tmp_path / "model" / "pretrain.json").read_text())["autoencoder"]["cpu_s"] > 0
    generator = load_generator(tmp_path / "model")
    assert generator.transformer.config.in_channels == 4 and result.steps == 4
    z = torch.zeros(1, *generator.codec.latent_shape(2, 16, 16))
    assert z.shape == (1, 4, 2, 4, 4) and decode_latents(generator, z).shape == (1, 2, 16, 16, 3)


def test_pretrain_config_checks_the_codec_and_its_tiling():
    with pytest.raises(ConfigError, match="codec must be one of"):
        PretrainConfig(codec="vq-vae")
    with pytest.raises(ConfigError, match="÷8"):
        PretrainConfig(codec="frame_autoencoder", clips={"size": 36}, autoencoder={"levels": 3})
    with pytest.raises(ConfigError, match="autoencoder: steps"):
        PretrainConfig(codec="frame_autoencoder", autoencoder={"steps": 0})


def test_subject_cells_mark_the_latent_cells_the_moving_subject_crosses():
    from alignment.codec import ChromaUnshuffleCodec
    from alignment.world.pretrain import subject_cells

    clip = np.full((1, 3, 8, 8, 3), 100, np.uint8)  # a grey 3-frame clip, a bright dot at (0, 0) then (7, 7)
    clip[0, 0, 0, 0] = 255
    clip[0, 1, 7, 7] = 255
    cells = subject_cells(clip, ChromaUnshuffleCodec(4))  # 4×4-pixel cells: a 2×2 grid per frame
    expected = torch.zeros(1, 1, 3, 2, 2, dtype=torch.bool)
    expected[0, 0, 0, 0, 0] = expected[0, 0, 1, 1, 1] = True
    assert torch.equal(cells, expected)


def test_subject_weighted_flow_loss_by_hand():
    from alignment.world.pretrain import flow_loss

    pred = torch.zeros(1, 1, 1, 1, 2)
    target = torch.tensor([[[[[1.0, 2.0]]]]])  # squared errors 1 and 4
    assert flow_loss(pred, target, None, 3.0).item() == pytest.approx(2.5)
    cells = torch.tensor([[[[[True, False]]]]])
    # weights 1 + 3 = 4 and 1, normalised by their mean 2.5: (1.6 · 1 + 0.4 · 4) / 2 = 1.6
    assert flow_loss(pred, target, cells, 3.0).item() == pytest.approx(1.6)
    assert flow_loss(pred, target, cells, 0.0).item() == pytest.approx(2.5)
    with pytest.raises(ConfigError, match="subject_weight"):
        PretrainConfig(subject_weight=-1.0)


def test_a_base_can_reuse_an_earlier_bases_autoencoder(tmp_path):
    clip_cfg = ClipSetConfig(n_clips=8, frames=2, size=16, grammar="simple")
    clips = load_or_render(clip_cfg, tmp_path / "cache")
    tiny = dict(clips=clip_cfg, steps=2, codec="frame_autoencoder", patch_size=(1, 1, 1), num_layers=1,
                num_attention_heads=2, attention_head_dim=8, ffn_dim=16, text_dim=16, text_layers=0, batch_size=4,
                log_every=1, threads=1)
    pretrain(PretrainConfig(**tiny, autoencoder={"width": 4, "latent_channels": 4, "steps": 3, "batch_size": 2}),
             clips, tmp_path / "first")
    # another clip set (a wider spread of positions) over the same autoencoder
    moved_cfg = ClipSetConfig(n_clips=8, frames=2, size=16, grammar="simple", centre_jitter=0.15)
    moved = load_or_render(moved_cfg, tmp_path / "cache")
    pretrain(PretrainConfig(**{**tiny, "clips": moved_cfg}, autoencoder_from=str(tmp_path / "first")), moved,
             tmp_path / "second")
    first, second = (json.loads((tmp_path / d / "generator.json").read_text()) for d in ("first", "second"))
    assert first["codec"] == second["codec"]  # the same weights, by digest
    record = json.loads((tmp_path / "second" / "pretrain.json").read_text())["autoencoder"]
    trained = json.loads((tmp_path / "first" / "pretrain.json").read_text())["autoencoder"]
    assert record["from"] == str(tmp_path / "first") and record["trained_cpu_s"] == trained["cpu_s"]
    with pytest.raises(ConfigError, match="not a pretrain-base model directory"):
        pretrain(PretrainConfig(**tiny, autoencoder_from=str(tmp_path / "cache")), clips, tmp_path / "third")
