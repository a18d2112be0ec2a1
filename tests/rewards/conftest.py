"""Shared fixtures of the reward tests: one tiny Qwen2-VL base directory and one tiny training run per
session (the expensive parts, built once)."""
import csv
from pathlib import Path

import pytest

from rewards.config import ModelConfig, RewardConfig, TrainConfig, VideoConfig
from rewards.data import read_pairs, split_by_prompt
from rewards.pretrain_base import PretrainConfig, pretrain_base
from rewards.tiny_base import write_tiny_base
from rewards.train import train
from tests.rewards.reward_clips import brightness_dataset


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("tiny_base"), corpus=["a red square", "a blue circle"])


def tiny_config(base, epochs=3):
    return RewardConfig(
        video=VideoConfig(min_pixels=784, max_pixels=3136),
        model=ModelConfig(base=str(base)),
        train=TrainConfig(loss="btt", lora_r=4, lora_alpha=8, lora_dropout=0.0, lr_head=1e-2, lr_embeddings=1e-3,
                          lr_lora=1e-3, lr_vision=1e-3, lr_merger=1e-3, batch_size=2, grad_accum=1,
                          epochs=epochs, val_fraction=0.4, warmup_ratio=0.1),
    )


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pairs")
    csv_path = brightness_dataset(directory, levels=5)
    (directory / "broken.mp4").write_bytes(b"not a video at all" * 50)
    # One bad row in a training prompt, one in a held-out prompt (same prompts, so the split is unchanged).
    train_records, val_records = split_by_prompt(read_pairs(csv_path), 0.4, seed=0)
    with csv_path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["v1.mp4", "broken.mp4", train_records[0].prompt, "A", "A", "A", "A", 4, 4, 4, 4])
        writer.writerow(["missing.mp4", "v2.mp4", val_records[0].prompt, "B", "B", "B", "B", 4, 4, 4, 4])
    return csv_path


@pytest.fixture(scope="session")
def run(tiny_base_dir, dataset, tmp_path_factory):
    events = []
    out = tmp_path_factory.mktemp("run")
    result = train(dataset, tiny_config(tiny_base_dir), out, progress=events.append)
    return result, events, out


# A captioner small enough to pretrain in seconds: 56×56 clips of 4 frames, one layer each side.
TINY_PRETRAIN = PretrainConfig(n_clips=6, held_out=2, size=56, frames=4, fps=4.0, hidden_size=32, num_layers=1,
                               vision_depth=1, vision_embed_dim=16, warmup_steps=1, batch_size=4, epochs=50,
                               workers=1, lr=3e-3, vocab_size=400, readout_share=0.0)  # the captioner alone


@pytest.fixture(scope="session")
def pretrained_tiny_base(tmp_path_factory):
    """(folder with clips/ and base/, PretrainResult, per-step losses) of a 12-step captioning run."""
    root = tmp_path_factory.mktemp("pretrain")
    events = []
    result = pretrain_base(root / "base", TINY_PRETRAIN, clip_dir=root / "clips", progress=events.append,
                           max_steps=12)
    return root, result, [e["loss"] for e in events]
