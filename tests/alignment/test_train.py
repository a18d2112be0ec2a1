import json
import math

import pytest
import torch
from peft.utils import get_peft_model_state_dict

from alignment.config import ConfigError, TrainConfig
from alignment.dataset import PairData, SampleData
from alignment.flow_matching import add_noise, per_sample_mse, velocity_target
from alignment.generator import load_generator
from alignment.sampling import generate_latents
from alignment.train import (
    adapter_disabled,
    add_lora,
    flow_dpo_step,
    noisy_pair_batch,
    train,
)

LATENT = (16, 3, 4, 4)  # the tiny Wan VAE's latent of a 9×32×32 clip


def _config(method="flow-dpo", **overrides):
    values = dict(
        method=method,
        beta=50.0,
        learning_rate=2e-3,
        max_steps=6,
        batch_size=2,
        lora={"rank": 4, "alpha": 8.0},
        progress_bar=False,
    )
    values.update(overrides)
    return TrainConfig.from_dict(values)


def _pair_data(gen, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    winners = torch.randn(n, *LATENT, generator=g)
    losers = winners + torch.randn(n, *LATENT, generator=g)  # losers are noisier versions of the winners
    return PairData.from_tensors(winners, losers, gen.encode_prompts(["a red circle moves left"] * n))


def _errors(transformer, latents, embeds, seed=123):
    """Flow-matching error per sample at a fixed set of σ and noises (an evaluation independent of training)."""
    g = torch.Generator().manual_seed(seed)
    errs = []
    for sigma in (0.2, 0.5, 0.8):
        noise = torch.randn(latents.shape, generator=g)
        s = torch.full((len(latents),), sigma)
        with torch.no_grad():
            pred = transformer(add_noise(latents, noise, s), s * 1000, embeds, return_dict=False)[0]
        errs.append(per_sample_mse(pred, velocity_target(latents, noise)))
    return torch.stack(errs).mean(0)


def test_winner_and_loser_share_noise_and_timestep():
    g = torch.Generator().manual_seed(0)
    w, lo = torch.randn(3, 2, 2, 2, 2, generator=g), torch.randn(3, 2, 2, 2, 2, generator=g)
    batch = noisy_pair_batch(w, lo, torch.Generator().manual_seed(1), _config())
    x0 = torch.cat([w, lo])
    s = batch.timestep / 1000
    # invert x_σ = (1 − σ)x₀ + σε for each half: the recovered ε must be the same for winner and loser
    eps = (batch.inputs - (1 - s.view(-1, 1, 1, 1, 1)) * x0) / s.view(-1, 1, 1, 1, 1)
    eps_w, eps_l = eps.chunk(2)
    assert torch.allclose(eps_w, eps_l, atol=1e-5)
    assert torch.equal(batch.timestep[:3], batch.timestep[3:])
    assert len(set(batch.sigma.tolist())) == 3  # different pairs get different σ
    assert torch.allclose(batch.target, eps - x0, atol=1e-5)


class _SpyTransformer(torch.nn.Module):
    """Records what the Flow-DPO step feeds the network, and whether the adapter was off."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))
        self.adapter_on = True
        self.calls = []

    def disable_adapters(self):
        self.adapter_on = False

    def enable_adapters(self):
        self.adapter_on = True

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_dict=False):
        self.calls.append((hidden_states.clone(), timestep.clone(), self.adapter_on))
        return (hidden_states * (self.scale if self.adapter_on else 0.5),)


def test_flow_dpo_step_uses_the_same_inputs_for_policy_and_reference():
    spy = _SpyTransformer()
    batch = {"latents_w": torch.randn(2, 1, 1, 2, 2), "latents_l": torch.randn(2, 1, 1, 2, 2),
             "embeds": torch.zeros(2, 3, 4)}
    out = flow_dpo_step(spy, batch, torch.Generator().manual_seed(0), _config())
    (x_pol, t_pol, on_pol), (x_ref, t_ref, on_ref) = spy.calls
    assert on_pol and not on_ref and spy.adapter_on  # reference with the adapter off, then back on
    assert torch.equal(x_pol, x_ref) and torch.equal(t_pol, t_ref)
    assert torch.equal(t_pol[:2], t_pol[2:])
    assert out.loss.item() == pytest.approx(math.log(2))  # policy == reference at this point


def test_disabling_the_adapter_reproduces_the_base_model_exactly(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    x = torch.randn(2, *LATENT, generator=torch.Generator().manual_seed(0))
    t, emb = torch.tensor([300.0, 700.0]), gen.encode_prompts(["a", "b"])
    with torch.no_grad():
        base = gen.transformer(x, t, emb, return_dict=False)[0]
        add_lora(gen.transformer, _config())
        # a fresh LoRA (B = 0) is the base model: Flow-DPO starts at log 2
        assert torch.equal(gen.transformer(x, t, emb, return_dict=False)[0], base)
        for name, p in gen.transformer.named_parameters():
            if "lora_B" in name:
                p.normal_()
        adapted = gen.transformer(x, t, emb, return_dict=False)[0]
        with adapter_disabled(gen.transformer):
            reference = gen.transformer(x, t, emb, return_dict=False)[0]
    assert not torch.allclose(adapted, base, atol=1e-3)
    assert torch.equal(reference, base)


def test_flow_dpo_on_the_real_network_starts_at_log2(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    add_lora(gen.transformer, _config())
    batch = _pair_data(gen).batch(torch.tensor([0, 1]))
    out = flow_dpo_step(gen.transformer, batch, torch.Generator().manual_seed(0), _config())
    assert out.loss.item() == pytest.approx(math.log(2), abs=1e-6)
    out.loss.backward()
    grads = [p.grad for n, p in gen.transformer.named_parameters() if "lora_B" in n]
    assert any(g.abs().sum() > 0 for g in grads)  # the loss reaches the adapter


def test_flow_dpo_training_prefers_the_winners(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    data = _pair_data(gen)
    calls = []
    result = train(_config(max_steps=12), data, gen, tmp_path / "run",
                   progress=lambda step, total, stats: calls.append((step, total, stats["loss"])))
    assert [(s, t) for s, t, _ in calls] == [(i, 12) for i in range(1, 13)]
    assert result.history[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert calls[-1][2] == result.history[-1]["loss"]
    # judge with fresh noise: the policy's error relative to the reference must fall on winners vs losers
    w, lo, emb = data.latents[:4], data.latents[4:], data.embeds
    policy_w, policy_l = _errors(gen.transformer, w, emb), _errors(gen.transformer, lo, emb)
    with adapter_disabled(gen.transformer):
        ref_w, ref_l = _errors(gen.transformer, w, emb), _errors(gen.transformer, lo, emb)
    inside = -((policy_w - ref_w) - (policy_l - ref_l))
    assert (inside > 0).float().mean() >= 0.75
    assert json.loads((tmp_path / "run" / "history.json").read_text())[-1]["step"] == 12


def test_saved_lora_loads_with_diffusers_and_gives_the_same_samples(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    base_sample = generate_latents(gen, ["a red circle"], [5], 9, 32, 32, num_steps=3)
    result = train(_config(max_steps=4), _pair_data(gen), gen, tmp_path / "run")
    trained_sample = generate_latents(gen, ["a red circle"], [5], 9, 32, 32, num_steps=3)
    fresh = load_generator(tiny_model_dir)
    fresh.pipe.load_lora_weights(result.lora_dir)
    loaded_sample = generate_latents(fresh, ["a red circle"], [5], 9, 32, 32, num_steps=3)
    assert not torch.allclose(trained_sample, base_sample, atol=1e-4)  # the LoRA changed the samples
    assert torch.allclose(loaded_sample, trained_sample, atol=1e-6)


def test_resume_continues_exactly(tiny_model_dir, tmp_path):
    cfg = dict(max_steps=4, checkpoint_every=2, gradient_accumulation=2)
    gen = load_generator(tiny_model_dir)
    train(_config(**cfg), _pair_data(gen), gen, tmp_path / "straight")
    straight = get_peft_model_state_dict(gen.transformer)

    gen = load_generator(tiny_model_dir)
    train(_config(**{**cfg, "max_steps": 2}), _pair_data(gen), gen, tmp_path / "split")
    gen = load_generator(tiny_model_dir)
    result = train(_config(**cfg), _pair_data(gen), gen, tmp_path / "split", resume=True)
    resumed = get_peft_model_state_dict(gen.transformer)
    assert [h["step"] for h in result.history] == [1, 2, 3, 4]  # the history carries over
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.allclose(straight[key], resumed[key], atol=1e-7), key

    gen = load_generator(tiny_model_dir)
    with pytest.raises(ValueError, match="changed config \\(beta\\)"):
        train(_config(**cfg, beta=7.0), _pair_data(gen), gen, tmp_path / "split", resume=True)


def test_gradient_checkpointing_gives_the_same_gradients(tiny_model_dir):
    grads = []
    for checkpointing in (False, True):
        gen = load_generator(tiny_model_dir)
        add_lora(gen.transformer, _config())
        gen.transformer.train()
        if checkpointing:
            gen.transformer.enable_gradient_checkpointing()
        batch = _pair_data(gen).batch(torch.tensor([0, 1]))
        out = flow_dpo_step(gen.transformer, batch, torch.Generator().manual_seed(0), _config(sft_weight=1.0))
        out.loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in gen.transformer.parameters() if p.grad is not None]))
    assert grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_sft_lowers_the_error_on_winners(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    data = _pair_data(gen)
    w, emb = data.latents[:4], data.embeds
    before = _errors(gen.transformer, w, emb).mean()
    train(_config("sft", max_steps=10), data, gen, tmp_path / "run")
    assert _errors(gen.transformer, w, emb).mean() < before


def test_rwr_learns_the_high_reward_sample_more(tiny_model_dir, tmp_path):
    g = torch.Generator().manual_seed(3)
    latents = torch.randn(2, *LATENT, generator=g)
    advantage = []
    for rewards in ([3.0, -3.0], [-3.0, 3.0]):
        gen = load_generator(tiny_model_dir)
        embeds = gen.encode_prompts(["a red circle"])
        # rewards ±3 at τ = 1: weights 2·softmax(±[3, −3]) ≈ [2.0, 0.005] or the reverse
        data = SampleData(latents, embeds, torch.tensor([[0, 0], [1, 0]]), torch.tensor(rewards))
        before = _errors(gen.transformer, latents, embeds.expand(2, -1, -1))
        train(_config("flow-rwr", max_steps=10), data, gen, tmp_path / str(rewards))
        gain = before - _errors(gen.transformer, latents, embeds.expand(2, -1, -1))
        advantage.append((gain[0] - gain[1]).item())
    # whichever sample carries the high reward improves more (shared structure improves both somewhat)
    assert advantage[0] > 0 > advantage[1]


def test_config_rejects_unknown_names():
    with pytest.raises(ConfigError, match="unknown method 'ppo'"):
        TrainConfig(method="ppo")
    with pytest.raises(ConfigError, match="unknown field\\(s\\) learning_rat"):
        TrainConfig.from_dict({"method": "sft", "learning_rat": 1.0})
    with pytest.raises(ConfigError, match="unknown beta_schedule"):
        TrainConfig(method="flow-dpo", beta_schedule="linear")
    with pytest.raises(ConfigError, match="lora.rank"):
        TrainConfig(method="sft", lora={"rank": 0})
    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        TrainConfig(method="sft", precision="fp8")


def test_method_and_data_must_match(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    samples = SampleData(torch.zeros(1, *LATENT), torch.zeros(1, 16, 32), torch.tensor([[0, 0]]), torch.zeros(1))
    with pytest.raises(TypeError, match="flow-dpo trains on PairData"):
        train(_config(), samples, gen, tmp_path)


def test_heldout_accuracy_keeps_the_best_lora_and_stops_early(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    config = _config(max_steps=40, eval_every=2, early_stopping_patience=2, learning_rate=5e-2)
    # held-out pairs with the preference reversed: the better training goes, the worse they score
    train_data = _pair_data(gen, seed=0)
    reversed_heldout = PairData(train_data.latents, train_data.embeds, train_data.rows[:, [1, 0, 2]])
    result = train(config, train_data, gen, tmp_path / "run", heldout=reversed_heldout)
    evals = [h for h in result.history if "heldout_implicit_accuracy" in h]
    accuracies = [h["heldout_implicit_accuracy"] for h in evals]
    assert result.steps < 40  # stopped early
    # the stop comes exactly `patience` evaluations after the best one
    best_index = accuracies.index(max(accuracies))
    assert len(evals) == best_index + 1 + 2
    assert result.best_heldout_accuracy == max(accuracies)
    best = json.loads((result.best_lora_dir / "best.json").read_text())
    assert best["step"] == evals[best_index]["step"]
    assert (result.best_lora_dir / "pytorch_lora_weights.safetensors").is_file()


def test_eval_every_needs_heldout_pairs(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    with pytest.raises(ValueError, match="eval_every > 0 needs held-out pairs"):
        train(_config(eval_every=2), _pair_data(gen), gen, tmp_path)
    with pytest.raises(ConfigError, match="early_stopping_patience needs eval_every"):
        _config(early_stopping_patience=3)


def test_gradient_checkpointing_is_active_in_training_and_changes_nothing(tiny_model_dir, tmp_path, monkeypatch):
    import torch.utils.checkpoint

    real_checkpoint = torch.utils.checkpoint.checkpoint
    calls = []

    def counting_checkpoint(*args, **kwargs):  # diffusers looks the function up at call time
        calls.append(1)
        return real_checkpoint(*args, **kwargs)

    monkeypatch.setattr(torch.utils.checkpoint, "checkpoint", counting_checkpoint)
    runs = {}
    for checkpointing in (False, True):
        calls.clear()
        gen = load_generator(tiny_model_dir)
        result = train(_config(max_steps=3, sft_weight=1.0, gradient_checkpointing=checkpointing), _pair_data(gen),
                       gen, tmp_path / str(checkpointing))
        assert gen.transformer.gradient_checkpointing is checkpointing
        # the policy pass of every step runs each of the 2 blocks through the checkpoint (the reference pass
        # runs without gradients, where diffusers skips it)
        assert len(calls) == (3 * 2 if checkpointing else 0)
        runs[checkpointing] = (result.history, get_peft_model_state_dict(gen.transformer))
    (hist_plain, lora_plain), (hist_ckpt, lora_ckpt) = runs[False], runs[True]
    for a, b in zip(hist_plain, hist_ckpt, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
    for key in lora_plain:
        assert torch.allclose(lora_plain[key], lora_ckpt[key], atol=1e-6), key


def test_resume_mid_patience_stops_where_the_uninterrupted_run_stops(tiny_model_dir, tmp_path):
    def run(out, max_steps, resume=False):
        gen = load_generator(tiny_model_dir)
        config = _config(max_steps=max_steps, eval_every=2, early_stopping_patience=3, learning_rate=5e-2,
                         checkpoint_every=2)
        data = _pair_data(gen, seed=0)
        reversed_heldout = PairData(data.latents, data.embeds, data.rows[:, [1, 0, 2]])
        return train(config, data, gen, tmp_path / out, resume=resume, heldout=reversed_heldout)

    straight = run("straight", 40)
    assert straight.steps < 40
    evals = [h for h in straight.history if "heldout_implicit_accuracy" in h]
    best_step = evals[[h["heldout_implicit_accuracy"] for h in evals].index(straight.best_heldout_accuracy)]["step"]
    # interrupt two evaluations after the best one: one more evaluation without gain must stop the run
    run("split", best_step + 4)
    resumed = run("split", 40, resume=True)
    assert resumed.steps == straight.steps
    assert [h["step"] for h in resumed.history] == [h["step"] for h in straight.history]
    assert resumed.best_heldout_accuracy == straight.best_heldout_accuracy


def test_a_best_lora_saved_after_the_last_checkpoint_is_not_reported_after_resume(tiny_model_dir, tmp_path):
    # A crashed run can save a new best LoRA after its last checkpoint; the resumed run replays the history only up
    # to the checkpoint, so that LoRA belongs to no evaluation it keeps. Simulated by re-labelling the best's step.
    gen = load_generator(tiny_model_dir)
    config = _config(max_steps=8, eval_every=2, early_stopping_patience=0, learning_rate=5e-2, checkpoint_every=2)
    data = _pair_data(gen, seed=0)
    out = tmp_path / "run"
    train(config, data, gen, out, heldout=data)
    best_json = out / "best_lora" / "best.json"
    record = json.loads(best_json.read_text())
    best_json.write_text(json.dumps({**record, "step": 999}))  # not a step of the history
    gen = load_generator(tiny_model_dir)  # a fresh process would load the model anew
    data = _pair_data(gen, seed=0)
    resumed = train(_config(max_steps=12, eval_every=2, early_stopping_patience=0, learning_rate=5e-2,
                            checkpoint_every=2), data, gen, out, resume=True, heldout=data)
    # the reported best is an evaluation of the resumed run, and its LoRA on disk is that evaluation's
    saved = json.loads(best_json.read_text())
    assert saved["step"] > 8
    by_step = {h["step"]: h["heldout_implicit_accuracy"] for h in resumed.history if "heldout_implicit_accuracy" in h}
    assert resumed.best_heldout_accuracy == by_step[saved["step"]] == saved["heldout_implicit_accuracy"]
