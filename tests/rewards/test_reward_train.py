"""A tiny end-to-end training run: the loss falls, held-out accuracy beats chance, bad videos are skipped,
the saved model scores like the trained one, and a resumed run continues exactly where it stopped."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rewards.checkpoint import read_meta
from rewards.data import read_pairs, split_by_prompt
from rewards.scorer import RewardScorer
from rewards.train import train
from tests.rewards.conftest import tiny_config


def test_loss_falls_and_held_out_accuracy_beats_chance(run):
    result, events, out = run
    steps = [e for e in events if e["event"] == "step"]
    first_epoch = np.mean([e["loss"] for e in steps if e["epoch"] == 0])
    last_epoch = np.mean([e["loss"] for e in steps if e["epoch"] == 2])
    assert last_epoch < 0.7 * first_epoch
    # Held-out prompts (2 of 5 scenes → 8 decided pairs + 2 ties): brighter wins; chance is 0.5.
    for dim in ("VQ", "MQ", "TA"):
        assert result.val_report[dim]["without_ties"] >= 0.75, result.val_report
    assert result.val_report["VQ"]["n"] == 10
    # Progress events and the metrics file tell the same story.
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in steps] == list(range(1, result.global_step + 1))
    assert lines == events


def test_corrupt_and_missing_videos_are_skipped_and_counted(run):
    result, events, _ = run
    assert result.skipped_pairs == 2
    assert [p.rsplit("/", 1)[-1] for p in result.skipped_files] == ["broken.mp4", "missing.mp4"]
    assert events[-1]["skipped_pairs"] == 2


def test_saved_model_scores_like_the_trained_one(run, dataset):
    result, _, _ = run
    scorer = RewardScorer.from_pretrained(result.model_dir)
    # The normalisation was measured at the end of training on the held-out videos (A and B sides, with
    # repeats) with the in-memory network: the reloaded network must reproduce mean 0 and std 1 on them.
    _, val_records = split_by_prompt(read_pairs(dataset), 0.4, seed=0)
    good = [r for r in val_records if r.path_a.exists() and r.path_b.exists()]
    videos = [r.path_a for r in good] + [r.path_b for r in good]
    scores = scorer.score(videos, [r.prompt for r in good] * 2)
    table = np.array([[s["VQ"], s["MQ"], s["TA"]] for s in scores])
    assert np.allclose(table.mean(0), 0.0, atol=1e-4)
    assert np.allclose(table.std(0), 1.0, atol=1e-4)
    assert all(s["Overall"] == pytest.approx(s["VQ"] + s["MQ"] + s["TA"]) for s in scores)
    # And it ranks as trained: the brightest held-out video above the darkest on every dimension.
    brightness = [int(v.name[1]) for v in videos]
    hi, lo = int(np.argmax(brightness)), int(np.argmin(brightness))
    assert (table[hi] > table[lo]).all()


def test_resume_continues_from_the_saved_step(tiny_base_dir, dataset, run, tmp_path):
    full, _, full_out = run
    # Stop in the middle of epoch 1, resume from that checkpoint, and end with the same weights as the
    # uninterrupted run (dropout 0; the shuffle depends only on seed and epoch).
    per_epoch = full.global_step // 3
    stop = per_epoch + 3
    first = train(dataset, tiny_config(tiny_base_dir), tmp_path, max_steps=stop)
    assert first.global_step == stop
    ckpt = tmp_path / "checkpoints" / f"step-{stop}"
    _, _, position = read_meta(ckpt)
    assert (position.epoch, position.global_step) == (1, stop)
    events = []
    resumed = train(dataset, tiny_config(tiny_base_dir), tmp_path / "resumed", resume_from=ckpt,
                    progress=events.append)
    assert events[0]["step"] == stop + 1
    assert resumed.global_step == full.global_step
    a = load_file(str(full_out / "model" / "trainable.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model" / "trainable.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key


def test_a_save_killed_midway_leaves_the_previous_checkpoint_as_the_latest(run, tmp_path, monkeypatch):
    """A worker killed while writing a checkpoint must not leave a truncated one that resume would pick (it
    failed a resumed run with "EOFError: Ran out of input" reading the optimizer state)."""
    from rewards.checkpoint import Position, load_network, load_training_state, save_checkpoint
    from rewards.services.pipeline import _latest_checkpoint

    _, _, full_out = run
    network, config, normalization, _ = load_network(full_out / "model")
    optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=1e-3)
    checkpoints = tmp_path / "train" / "checkpoints"
    save_checkpoint(checkpoints / "step-2", network, config, normalization, Position(0, 2), optimizer)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the optimizer state")

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(checkpoints / "step-4", network, config, normalization, Position(0, 4), optimizer)
    assert not (checkpoints / "step-4").exists()
    assert _latest_checkpoint(tmp_path / "train") == checkpoints / "step-2"
    assert "optimizer" in load_training_state(checkpoints / "step-2")
    monkeypatch.undo()
    save_checkpoint(checkpoints / "step-4", network, config, normalization, Position(0, 4), optimizer)
    assert _latest_checkpoint(tmp_path / "train") == checkpoints / "step-4"
    assert read_meta(checkpoints / "step-4")[2].global_step == 4
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-2", "step-4"]  # no partial folder left
