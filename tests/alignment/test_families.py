"""LTX-Video (flow matching) and CogVideoX (v-prediction, Diffusion-DPO) through the same code path as Wan."""
import math
from pathlib import Path

import pytest
import torch
from diffusers import LTXPipeline

from alignment.codec import ScaledVaeCodec
from alignment.config import TrainConfig
from alignment.dataset import PairData
from alignment.families import LtxDenoiser, unwrap
from alignment.generator import load_generator
from alignment.sampling import generate_latents, initial_noise, sample_latents
from alignment.tiny_families import build_tiny_cogvideox_generator, build_tiny_ltx_generator
from alignment.train import adapter_disabled, add_lora, diffusion_dpo_step, flow_dpo_step, train


@pytest.fixture(scope="module")
def ltx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_ltx_generator(tmp_path_factory.mktemp("tiny_ltx") / "model", seed=0)


@pytest.fixture(scope="module")
def cog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cogvideox_generator(tmp_path_factory.mktemp("tiny_cog") / "model", seed=0)


def _config(method="flow-dpo", **overrides):
    values = dict(method=method, beta=50.0, learning_rate=2e-3, max_steps=4, batch_size=2,
                  lora={"rank": 4, "alpha": 8.0}, progress_bar=False)
    values.update(overrides)
    return TrainConfig.from_dict(values)


def _pair_data(gen, shape, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    winners = torch.randn(n, *shape, generator=g)
    losers = winners + torch.randn(n, *shape, generator=g)  # losers are noisier versions of the winners
    return PairData.from_tensors(winners, losers, gen.encode_prompts(["a red circle moves left"] * n))


def test_ltx_loads_through_load_generator_with_its_family(ltx_dir):
    gen = load_generator(ltx_dir)
    assert gen.family.name == "ltx" and isinstance(gen.pipe, LTXPipeline)
    assert isinstance(gen.transformer, LtxDenoiser) and gen.transformer.config.in_channels == 8
    assert isinstance(gen.codec, ScaledVaeCodec) and gen.codec.latent_shape(9, 32, 32) == (8, 3, 8, 8)
    emb = gen.encode_prompts(["a red circle moves left", "a"])
    n_tokens = len(gen.pipe.tokenizer("a").input_ids)
    assert emb[1, n_tokens:].abs().sum() == 0 and emb[1, :n_tokens].ne(0).any(-1).all()  # the mask as zero rows


def test_ltx_codec_normalises_as_the_pipeline(ltx_dir):
    gen = load_generator(ltx_dir)
    vae = gen.pipe.vae
    vae.latents_mean.copy_(torch.linspace(-1, 1, 8))
    vae.latents_std.copy_(torch.linspace(0.5, 2, 8))
    video = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    codec = ScaledVaeCodec(vae, "ltx_vae")
    z = vae.encode(video).latent_dist.mode()
    expected = LTXPipeline._normalize_latents(z, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
    assert torch.allclose(codec.encode(video), expected, atol=1e-6)
    assert codec.decode(codec.encode(video)).shape == video.shape


def test_ltx_euler_sampler_matches_the_diffusers_pipeline(ltx_dir):
    gen = load_generator(ltx_dir)
    shape = gen.codec.latent_shape(9, 32, 32)
    noise = initial_noise(shape, [7])
    expected = gen.pipe(
        prompt="a blue square", negative_prompt="", num_frames=9, height=32, width=32, num_inference_steps=4,
        guidance_scale=4.0, latents=LTXPipeline._pack_latents(noise.clone()),
        max_sequence_length=gen.max_sequence_length, output_type="latent",
    ).frames
    expected = LTXPipeline._unpack_latents(expected, *shape[1:])
    scheduler = gen.sampling_scheduler()
    ours = sample_latents(
        gen.transformer, scheduler, noise, gen.encode_prompts(["a blue square"]), 4,
        negative_embeds=gen.encode_prompts([""]), guidance_scale=4.0,
        timestep_kwargs=gen.family.timestep_kwargs(scheduler, 4, shape),
    )
    assert torch.allclose(ours, expected, atol=1e-5)
    assert torch.allclose(generate_latents(gen, ["a blue square"], [7], 9, 32, 32, num_steps=4, guidance_scale=4.0),
                          ours, atol=1e-6)


def test_ltx_flow_dpo_starts_at_log2_and_reaches_the_adapter(ltx_dir):
    gen = load_generator(ltx_dir)
    add_lora(gen.transformer, _config())
    batch = _pair_data(gen, (8, 3, 8, 8)).batch(torch.tensor([0, 1]))
    out = flow_dpo_step(gen.transformer, batch, torch.Generator().manual_seed(0), _config())
    assert out.loss.item() == pytest.approx(math.log(2), abs=1e-6)
    out.loss.backward()
    grads = [p.grad for n, p in gen.transformer.named_parameters() if "lora_B" in n]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_ltx_lora_trains_and_loads_with_ltx_pipeline_giving_the_same_samples(ltx_dir, tmp_path):
    gen = load_generator(ltx_dir)
    base = generate_latents(gen, ["a red circle"], [5], 9, 32, 32, num_steps=3)
    result = train(_config(max_steps=3), _pair_data(gen, (8, 3, 8, 8)), gen, tmp_path / "run")
    assert result.history[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    trained = generate_latents(gen, ["a red circle"], [5], 9, 32, 32, num_steps=3)
    fresh = load_generator(ltx_dir)
    fresh.pipe.load_lora_weights(result.lora_dir)
    loaded = generate_latents(fresh, ["a red circle"], [5], 9, 32, 32, num_steps=3)
    assert not torch.allclose(trained, base, atol=1e-4)
    assert torch.allclose(loaded, trained, atol=1e-6)


def test_cogvideox_is_a_diffusion_family(cog_dir):
    gen = load_generator(cog_dir)
    assert gen.family.name == "cogvideox" and gen.family.objective == "diffusion"
    assert gen.transformer.diffusion_schedule.prediction_type == "v_prediction"
    assert gen.codec.latent_shape(9, 32, 32) == (4, 3, 4, 4)
    x = torch.randn(2, 4, 3, 4, 4)
    out = gen.transformer(x, torch.tensor([10, 900]), gen.encode_prompts(["a", "b"]), return_dict=False)[0]
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="cogvideox is a diffusion model: the flow-matching sampler cannot run it"):
        generate_latents(gen, ["a"], [0], 9, 32, 32)


def test_diffusion_dpo_starts_at_log2_with_shared_noise_and_timestep(cog_dir):
    gen = load_generator(cog_dir)
    add_lora(gen.transformer, _config("diffusion-dpo"))
    calls = []
    gen.transformer.register_forward_pre_hook(lambda m, args, kwargs: calls.append(kwargs), with_kwargs=True)
    batch = _pair_data(gen, (4, 3, 4, 4)).batch(torch.tensor([0, 1]))
    out = diffusion_dpo_step(gen.transformer, batch, torch.Generator().manual_seed(0), _config("diffusion-dpo"))
    assert out.loss.item() == pytest.approx(math.log(2), abs=1e-6)
    (policy, reference) = calls
    t = policy["timestep"]
    assert t.dtype == torch.long and torch.equal(t[:2], t[2:]) and torch.equal(t, reference["timestep"])
    assert torch.equal(policy["hidden_states"], reference["hidden_states"])


def test_diffusion_dpo_trains_on_pairs_toward_the_winners(cog_dir, tmp_path):
    gen = load_generator(cog_dir)
    data = _pair_data(gen, (4, 3, 4, 4))
    config = _config("diffusion-dpo", beta=500.0, learning_rate=1e-2, max_steps=15, eval_every=15)
    result = train(config, data, gen, tmp_path / "run", heldout=data)
    assert result.history[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    last = result.history[-1]
    # at a fixed draw of noise and timesteps, the policy's error fell on winners relative to losers
    assert last["heldout_implicit_accuracy"] >= 0.75 and last["heldout_reward_margin"] > 0
    with adapter_disabled(gen.transformer):
        assert unwrap(gen.transformer).peft_config  # the adapter is still attached, only switched off


def test_wrong_method_for_the_model_is_a_clear_error(cog_dir, ltx_dir, tiny_model_dir, tmp_path):
    cog = load_generator(cog_dir)
    with pytest.raises(ValueError, match="flow-dpo trains flow_matching models; cogvideox is a diffusion model "
                                         "\\(methods for it: diffusion-dpo\\)"):
        train(_config(), _pair_data(cog, (4, 3, 4, 4)), cog, tmp_path / "a")
    for model_dir, shape in ((ltx_dir, (8, 3, 8, 8)), (tiny_model_dir, (16, 3, 4, 4))):
        gen = load_generator(model_dir)
        with pytest.raises(ValueError, match="diffusion-dpo trains diffusion models; .* is a flow_matching model"):
            train(_config("diffusion-dpo"), _pair_data(gen, shape), gen, tmp_path / "b")
    with pytest.raises(TypeError, match="diffusion-dpo needs an epsilon/v-prediction model"):
        diffusion_dpo_step(gen.transformer, _pair_data(gen, (16, 3, 4, 4)).batch(torch.tensor([0])),
                           torch.Generator(), _config("diffusion-dpo"))


def test_cli_builds_tiny_families_and_offers_diffusion_dpo(tmp_path, capsys):
    from alignment.cli import build_parser, main

    assert main(["build-tiny", "--family", "cogvideox", "--out", str(tmp_path / "cog")]) == 0
    assert load_generator(tmp_path / "cog").family.name == "cogvideox"
    args = build_parser().parse_args(["train", "--method", "diffusion-dpo", "--model", "m", "--out", "o"])
    assert args.method == "diffusion-dpo"


def _without_max_sequence_length(model_dir: Path, dest: Path) -> Path:
    import json
    import shutil

    shutil.copytree(model_dir, dest)
    meta_path = dest / "generator.json"
    meta = json.loads(meta_path.read_text())
    del meta["max_sequence_length"]
    meta_path.write_text(json.dumps(meta))
    return dest


def test_cogvideox_without_a_configured_length_encodes_at_the_transformer_length(cog_dir, tmp_path):
    gen = load_generator(_without_max_sequence_length(cog_dir, tmp_path / "cog"))
    assert gen.max_sequence_length == gen.pipe.transformer.config.max_text_seq_length == 16
    embeds = gen.encode_prompts(["a", "b"])
    assert embeds.shape[1] == 16
    x = torch.randn(2, 4, 3, 4, 4)
    assert gen.transformer(x, torch.tensor([10, 900]), embeds, return_dict=False)[0].shape == x.shape


def test_cogvideox_with_positional_embeddings_refuses_another_length(cog_dir, tmp_path):
    import json

    from alignment.generator import GeneratorLoadError

    model = _without_max_sequence_length(cog_dir, tmp_path / "cog")
    (model / "generator.json").write_text(json.dumps({"max_sequence_length": 512}))
    with pytest.raises(GeneratorLoadError, match="max_sequence_length 512 does not fit .* max_text_seq_length=16"):
        load_generator(model)


def test_ltx_without_a_configured_length_encodes_at_its_pipeline_default(ltx_dir, tmp_path):
    assert load_generator(_without_max_sequence_length(ltx_dir, tmp_path / "ltx")).max_sequence_length == 128


def test_the_latent_reward_model_refuses_a_non_wan_generator_by_family(ltx_dir, tmp_path, capsys):
    from alignment.cli import main
    from alignment.config import ConfigError
    from alignment.latent_reward import LatentRewardModel

    ltx = load_generator(ltx_dir)
    with pytest.raises(ConfigError, match="supports only Wan generators, not ltx"):
        LatentRewardModel.from_generator(ltx.transformer, 1)
    code = main(["generate", "--model", str(ltx_dir), "--prompt", "p", "--guidance", "VQ=1",
                 "--reward-model", str(tmp_path / "rm"), "--out", str(tmp_path / "gen")])
    err = capsys.readouterr().err
    assert code == 2 and "supports only Wan generators, not ltx" in err and not (tmp_path / "gen").exists()
