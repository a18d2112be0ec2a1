"""`python -m alignment evaluate` end to end: a tiny reward model judges a tiny aligned adapter against its base on a
shared prompt suite; the win rates are recounted by hand from scores taken again through RewardScorer; identical
models tie everywhere; a free-text prompt is refused by the synthetic judge before any sampling; the side-by-side
mp4s hold the pretrained sample on the left."""
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from alignment.cli import main
from alignment.config import TrainConfig
from alignment.evaluate import SampleSettings, sample_frames
from alignment.generator import load_generator
from alignment.train import add_lora, save_lora
from alignment.video_io import read_video
from rewards.checkpoint import Normalization, Position, save_checkpoint
from rewards.config import ModelConfig, RewardConfig, VideoConfig
from rewards.network import RewardNetwork
from rewards.scorer import RewardScorer
from rewards.tiny_base import write_tiny_base

SUITE = Path(__file__).resolve().parents[3] / "shared" / "data" / "prompts" / "TA_hard.csv"
DIMS = ("VQ", "MQ", "TA")
CLIP = ("--frames", "4", "--height", "16", "--width", "16")


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The first lines of TA_hard.csv (the shared suite's format), or a stand-in in its layout without ../shared."""
    rows = [{"prompt": "A cat and a dog baking a cake, together.", "prompt_zh": "猫"},
            {"prompt": "A squirrel juggling acorns", "prompt_zh": "松鼠"}]
    if SUITE.is_file():
        with SUITE.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))[:2]
    return _write_csv(tmp_path_factory.mktemp("suite") / "TA_hard.csv", rows)


def _write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory):
    """An untrained tiny VideoReward checkpoint (random head: distinct videos get distinct scores)."""
    root = tmp_path_factory.mktemp("reward")
    base = write_tiny_base(root / "base", corpus=["a cat and a dog", "a squirrel"])
    config = RewardConfig(video=VideoConfig(min_pixels=784, max_pixels=3136), model=ModelConfig(base=str(base)))
    torch.manual_seed(0)
    network = RewardNetwork.from_base(base, config.model)
    if config.train.train_lora:  # as rewards.train builds it, so that load_network finds the same parameters
        network.add_lora(config.train)
    network.parameter_groups(config.train)
    return save_checkpoint(root / "model", network, config, Normalization.identity(), Position(0, 0))


def _adapter(model_dir, out, seed=None):
    generator = load_generator(model_dir)
    add_lora(generator.transformer, TrainConfig(method="sft", lora={"rank": 2, "alpha": 2}))
    if seed is not None:  # "aligned": a non-zero B, so the arm samples differently from the base
        gen = torch.Generator().manual_seed(seed)
        for name, param in generator.transformer.named_parameters():
            if "lora_B" in name:
                param.data = torch.randn(param.shape, generator=gen)
    return save_lora(generator.transformer, out)


def _evaluate(capsys, model_dir, lora, suite, out, *extra):
    code = main(["evaluate", "--model", str(model_dir), "--lora", f"dpo={lora}", "--prompts-file", str(suite),
                 "--seeds", "0,1,2", "--steps", "2", "--cfg", "2", *CLIP, "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _win_rate_by_hand(diffs, eps):
    return sum(1.0 if d > eps else 0.0 if d < -eps else 0.5 for d in diffs) / len(diffs)


def test_reward_model_judge_win_rates_recount_from_rescored_samples(tiny_unshuffle_model_dir, reward_model, suite,
                                                                     tmp_path, capsys):
    lora = _adapter(tiny_unshuffle_model_dir, tmp_path / "lora", seed=3)
    out = tmp_path / "eval"
    code, stdout, err = _evaluate(capsys, tiny_unshuffle_model_dir, lora, suite, out, "--judge", "reward-model",
                                  "--reward-model", str(reward_model), "--tie-epsilon", "0.001", "--side-by-side", "2")
    assert code == 0, err
    summary = json.loads(stdout)
    report = json.loads((out / "report.json").read_text())
    eps = report["judge"]["tie_margins"]
    assert eps == dict.fromkeys(DIMS, 0.001) and summary["pairs"] == 6 and report["arms"][0]["gate"] is None

    # every pair's two scored files, scored again by a scorer of our own, one at a time
    rows = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {(r["prompt"], r["seed"]) for r in rows} == {
        (p, s) for p in report["prompts"] for s in (0, 1, 2)}
    scorer = RewardScorer.from_pretrained(reward_model, device="cpu")
    diffs = {d: [] for d in DIMS}
    for row in rows:
        base, arm = (scorer.score([row[side]["video"]], [row["prompt"]])[0] for side in ("pretrained", "aligned"))
        for d in DIMS:
            assert base[d] == pytest.approx(row["pretrained"]["scores"][d], abs=1e-5)
            assert arm[d] == pytest.approx(row["aligned"]["scores"][d], abs=1e-5)
            diffs[d].append(arm[d] - base[d])
    assert any(abs(x) > 0.001 for d in DIMS for x in diffs[d])  # the adapter changed something the judge sees
    for d in DIMS:
        table = report["arms"][0]["table"][d]
        assert table["rate"] == pytest.approx(_win_rate_by_hand(diffs[d], eps[d]), abs=1e-12)
        assert summary["arms"]["dpo"][d] == round(table["rate"], 4)
        assert table["wins"] == sum(x > eps[d] for x in diffs[d]) and table["losses"] == sum(x < -eps[d] for x in diffs[d])

    index = json.loads((out / "side_by_side" / "index.json").read_text())
    assert [(e["prompt"], e["seed"]) for e in index] == [(rows[0]["prompt"], 0), (rows[0]["prompt"], 1)]
    assert index[0]["left"]["scores"] == rows[0]["pretrained"]["scores"]
    assert index[0]["right"]["scores"] == rows[0]["aligned"]["scores"]
    assert "dpo/000_s0.mp4" in (out / "side_by_side" / "index.md").read_text()


def test_identical_models_tie_on_every_pair(tiny_unshuffle_model_dir, reward_model, suite, tmp_path, capsys):
    lora = _adapter(tiny_unshuffle_model_dir, tmp_path / "zero_lora")  # B = 0: the base network exactly
    out = tmp_path / "eval"
    code, stdout, err = _evaluate(capsys, tiny_unshuffle_model_dir, lora, suite, out, "--judge", "reward-model",
                                  "--reward-model", str(reward_model), "--tie-epsilon", "0", "--side-by-side", "0")
    assert code == 0, err
    table = json.loads((out / "report.json").read_text())["arms"][0]["table"]
    assert all(table[d]["ties"] == 6 and table[d]["rate"] == 0.5 for d in DIMS)
    assert json.loads(stdout)["arms"]["dpo"] == {"gate": None, "VQ": 0.5, "MQ": 0.5, "TA": 0.5}
    assert not (out / "side_by_side").exists()


def test_the_synthetic_judge_refuses_a_free_text_prompt_before_sampling(tiny_unshuffle_model_dir, suite, tmp_path,
                                                                         capsys, monkeypatch):
    import alignment.evaluate

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before the prompts were checked")

    monkeypatch.setattr(alignment.evaluate, "sample_frames", no_sampling)
    from alignment.world.clips import heldout_prompts

    with suite.open(newline="", encoding="utf-8") as fh:
        free_text = [row["prompt"] for row in csv.DictReader(fh)]
    mixed = _write_csv(tmp_path / "mixed.csv", [{"prompt": p} for p in [heldout_prompts(1)[0], *free_text]])
    code, stdout, err = _evaluate(capsys, tiny_unshuffle_model_dir, tmp_path / "no_lora", mixed, tmp_path / "eval")
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1
    assert "prompt 2 of" in err and "outside the synthetic grammar" in err and free_text[0][:40] in err
    assert not (tmp_path / "eval").exists()


def test_side_by_side_mp4_is_pretrained_left_and_arm_right(tiny_unshuffle_model_dir, reward_model, suite, tmp_path,
                                                           capsys):
    lora = _adapter(tiny_unshuffle_model_dir, tmp_path / "lora", seed=3)
    out = tmp_path / "eval"
    code, _, err = _evaluate(capsys, tiny_unshuffle_model_dir, lora, suite, out, "--judge", "reward-model",
                             "--reward-model", str(reward_model), "--side-by-side", "1")
    assert code == 0, err
    entry = json.loads((out / "side_by_side" / "index.json").read_text())[0]
    video = read_video(out / "side_by_side" / entry["file"]).frames
    assert video.shape == (4, 16, 32, 3)

    # the same prompt and seed sampled again, outside the CLI
    settings = SampleSettings(num_frames=4, height=16, width=16, steps=2, cfg=2.0)
    base = sample_frames(load_generator(tiny_unshuffle_model_dir), [entry["prompt"]], [entry["seed"]], settings)[0]
    arm_generator = load_generator(tiny_unshuffle_model_dir)
    arm_generator.pipe.load_lora_weights(lora)
    with torch.no_grad():
        arm = sample_frames(arm_generator, [entry["prompt"]], [entry["seed"]], settings)[0]
    left, right = video[:, :, :16].astype(float), video[:, :, 16:].astype(float)
    # yuv420p halves the chroma resolution, and a random tiny generator paints per-pixel colour noise: compare
    # luma, which H.264 keeps at full resolution (crf 10: a few levels)
    luma = np.array([0.299, 0.587, 0.114])
    error = {k: float(np.abs((a - b) @ luma).mean()) for k, (a, b) in
             {"left-base": (left, base), "right-arm": (right, arm), "left-arm": (left, arm)}.items()}
    assert error["left-base"] < 4 and error["right-arm"] < 4, error
    assert error["left-base"] < error["left-arm"] / 2, error  # the halves are not interchangeable
    # and the left half is the sample the judge scored (same codec settings: the same decoded pixels, near enough)
    judged = read_video(entry["left"]["video"]).frames.astype(float)
    assert np.abs(left - judged).mean() < 2
    shutil.rmtree(out)


@pytest.mark.parametrize(("loras", "message"), [
    (["../../x"], "arm name '../../x': use only letters"),
    (["a/b"], "arm name 'a/b': use only letters"),
    ([".."], "arm name '..': use only letters"),
    (["pretrained"], "arm name 'pretrained' is reserved for the base model"),
    (["dpo", "dpo"], "arm name 'dpo' is given twice"),
])
def test_bad_arm_names_are_refused_before_anything_is_sampled_or_written(tmp_path, capsys, suite, loras, message):
    out = tmp_path / "out"
    lora_args = [a for name in loras for a in ("--lora", f"{name}={tmp_path / 'adapter'}")]
    code = main(["evaluate", "--model", str(tmp_path / "no_model"), *lora_args, "--prompts-file", str(suite),
                 "--seeds", "0", "--out", str(out), *CLIP])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_library_refuses_a_bad_arm_name_before_loading_the_model(tmp_path):
    from alignment.evaluate import Arm, evaluate

    with pytest.raises(ValueError, match="arm name '../x'"):
        evaluate(tmp_path / "no_model", [Arm("../x", lora=tmp_path)], ["a"], [0], SampleSettings(4, 16, 16),
                 judge=lambda frames, prompt: None, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
