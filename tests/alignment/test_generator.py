import json

import pytest
import torch

from alignment.codec import CodecConfigError, PixelUnshuffleCodec, WanVaeCodec
from alignment.generator import GeneratorLoadError, load_generator
from alignment.sampling import generate_latents, initial_noise, sample_latents


def test_tiny_build_loads_through_from_pretrained(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    assert isinstance(gen.codec, WanVaeCodec)
    assert gen.max_sequence_length == 16
    assert not gen.pipe.text_encoder.training
    assert gen.transformer.config.in_channels == 16


def test_prompt_embeddings_are_deterministic_and_zero_padded(tiny_model_dir):
    a, b = load_generator(tiny_model_dir), load_generator(tiny_model_dir)
    emb = a.encode_prompts(["a red circle moves left", "a"])
    assert torch.equal(emb, b.encode_prompts(["a red circle moves left", "a"]))
    n_tokens = len(a.pipe.tokenizer("a").input_ids)  # "a" + </s>
    assert n_tokens == 2
    assert emb[1, n_tokens:].abs().sum() == 0 and emb[1, :n_tokens].abs().sum() > 0


def test_euler_sampler_matches_the_diffusers_pipeline(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    noise = initial_noise(gen.codec.latent_shape(9, 32, 32), [7])
    expected = gen.pipe(
        prompt="a blue square",
        negative_prompt="",
        num_frames=9,
        height=32,
        width=32,
        num_inference_steps=4,
        guidance_scale=4.0,
        latents=noise.clone(),
        max_sequence_length=gen.max_sequence_length,
        output_type="latent",
    ).frames
    ours = sample_latents(
        gen.transformer,
        gen.sampling_scheduler(),
        noise,
        gen.encode_prompts(["a blue square"]),
        4,
        negative_embeds=gen.encode_prompts([""]),
        guidance_scale=4.0,
    )
    assert torch.allclose(ours, expected, atol=1e-6)


def test_same_seed_same_sample_and_seeds_are_independent(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    both = generate_latents(gen, ["a red circle", "a red circle"], [1, 2], 9, 32, 32, num_steps=2)
    alone = generate_latents(gen, ["a red circle"], [2], 9, 32, 32, num_steps=2)
    assert torch.allclose(both[1], alone[0], atol=1e-5)  # batch size changes float summation order only
    assert not torch.allclose(both[0], both[1])


def test_pixel_unshuffle_codec_is_exact_and_used_by_the_model(tiny_unshuffle_model_dir):
    codec = PixelUnshuffleCodec(2)
    video = torch.rand(1, 3, 5, 8, 6) * 2 - 1
    latents = codec.encode(video)
    assert latents.shape == (1, 12, 5, 4, 3)
    # channel c·4 + i·2 + j of latent pixel (y, x) is video channel c at (2y + i, 2x + j)
    assert latents[0, 1 * 4 + 1 * 2 + 0, 2, 1, 2] == video[0, 1, 2, 3, 4]
    assert torch.equal(codec.decode(latents), video)
    gen = load_generator(tiny_unshuffle_model_dir)
    assert isinstance(gen.codec, PixelUnshuffleCodec)
    out = generate_latents(gen, ["a red circle"], [0], 4, 16, 16, num_steps=2, guidance_scale=1.0)
    assert out.shape == (1, 12, 4, 8, 8)


def test_wan_vae_codec_shapes_and_errors(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    assert gen.codec.latent_shape(9, 32, 32) == (16, 3, 4, 4)
    with pytest.raises(CodecConfigError, match="num_frames = 4k \\+ 1"):
        gen.codec.latent_shape(8, 32, 32)


def test_load_errors_name_the_directory(tmp_path, tiny_model_dir):
    with pytest.raises(GeneratorLoadError, match="no model_index.json"):
        load_generator(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{}")
    with pytest.raises(GeneratorLoadError, match="cannot load the pipeline"):
        load_generator(broken)
    (broken / "generator.json").write_text(json.dumps({"codec": {"kind": "jpeg"}}))
    with pytest.raises(GeneratorLoadError, match="unknown codec kind 'jpeg'"):
        load_generator(broken)


def test_sampling_scheduler_is_separate_and_keeps_a_unipc_flow_shift(tiny_model_dir):
    from diffusers import UniPCMultistepScheduler

    gen = load_generator(tiny_model_dir)
    ours = gen.sampling_scheduler()
    assert ours is not gen.pipe.scheduler and ours.config.shift == 7.0
    gen.pipe.scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    assert gen.sampling_scheduler().config.shift == 3.0
