"""Save → disk → load: a model trained for a few steps, saved by train() and reloaded with
``RewardScorer.from_pretrained``, scores videos exactly as the in-memory model did; and the evaluation's
reliability figure gets the trained loss's own P(A≻B | decided)."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import rewards.evaluate
import rewards.train
from rewards import RewardScorer
from rewards.clip_cache import ClipCache
from rewards.evaluate import evaluate
from rewards.train import train
from tests.rewards.conftest import tiny_config
from tests.rewards.reward_clips import brightness_dataset


@pytest.fixture(scope="module")
def trained(pretrained_tiny_base, tmp_path_factory):
    """(TrainResult, the in-memory network as train() last saved it, dataset CSV): one epoch of 3 steps."""
    root, _, _ = pretrained_tiny_base
    data = brightness_dataset(tmp_path_factory.mktemp("pairs"), levels=3)  # 9 pairs, 3 prompts
    config = tiny_config(root / "base", epochs=1)
    config = replace(config, train=replace(config.train, val_fraction=0.34))  # 2 prompts train (6 pairs), 1 held out
    saved = []
    original = rewards.train.save_checkpoint

    def keep_network(directory, network, *args, **kwargs):
        saved.append(network)
        return original(directory, network, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rewards.train, "save_checkpoint", keep_network)
        result = train(data, config, tmp_path_factory.mktemp("run"))
    assert result.global_step == 3 and saved
    return result, saved[-1], data


@torch.no_grad()
def _raw_in_memory(network, model_dir, videos, prompts) -> np.ndarray:
    config = RewardScorer.from_pretrained(model_dir, device="cpu").config  # the same video settings
    cache = ClipCache(None, config.video)
    inputs = network.encode([cache.patches(v) for v in videos], prompts)
    return network.eval()(inputs).double().numpy()


def test_reloaded_model_scores_exactly_like_the_in_memory_one(trained):
    result, network, data = trained
    folder = data.parent
    videos = [folder / f"v{k}.mp4" for k in range(3)] + [folder / f"v{k}_twin.webm" for k in range(3)]
    prompts = [f"scene number {k}" for k in range(3)] * 2
    raw = _raw_in_memory(network, result.model_dir, videos, prompts)

    meta = json.loads((result.model_dir / "reward_config.json").read_text())["normalization"]
    mean = np.array([meta["mean"][d] for d in ("VQ", "MQ", "TA")])
    std = np.array([meta["std"][d] for d in ("VQ", "MQ", "TA")])
    assert not np.allclose(std, 1.0)  # measured on the held-out videos, so the check below is not trivial
    expected = (raw - mean) / std

    scores = RewardScorer.from_pretrained(result.model_dir, device="cpu").score(videos, prompts)
    table = np.array([[s["VQ"], s["MQ"], s["TA"]] for s in scores])
    assert np.abs(table - expected).max() <= 1e-6
    assert [s["Overall"] for s in scores] == pytest.approx(expected.sum(1).tolist(), abs=1e-6)
    # The training moved the rewards: a model that ignored the saved weights would score differently.
    assert np.ptp(expected[:, 0]) > 1e-3


def test_reliability_figure_gets_the_btt_probability_of_a_given_a_decided_pair(trained, tmp_path, monkeypatch):
    result, network, data = trained
    captured = {}
    original = rewards.evaluate.reliability_plot

    def keep(probabilities, labels, path, meaning):
        captured.update(p=probabilities, meaning=meaning)
        return original(probabilities, labels, path, meaning)

    monkeypatch.setattr(rewards.evaluate, "reliability_plot", keep)
    evaluate(result.model_dir, data, tmp_path / "eval", n_boot=10)

    rows = [line.split(",") for line in data.read_text().splitlines()[1:]]
    a = _raw_in_memory(network, result.model_dir, [data.parent / r[0] for r in rows], [r[2] for r in rows])
    b = _raw_in_memory(network, result.model_dir, [data.parent / r[1] for r in rows], [r[2] for r in rows])
    d = a - b  # raw margins; θ = 5 (the config's default)
    p_a, p_b = 1 / (1 + 5 * np.exp(-d)), 1 / (1 + 5 * np.exp(d))  # σ(d − ln θ), σ(−d − ln θ)
    for i, dim in enumerate(("VQ", "MQ", "TA")):
        assert np.abs(captured["p"][dim] - p_a[:, i] / (p_a[:, i] + p_b[:, i])).max() <= 1e-6
        assert not np.allclose(captured["p"][dim], 1 / (1 + np.exp(-d[:, i])))  # not σ(Δr)
    assert captured["meaning"] == "P_A / (P_A + P_B), BTT θ=5"
