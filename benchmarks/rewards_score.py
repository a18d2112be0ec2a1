"""Reward-model scoring speed: videos/s with a cold clip cache (decoding) and a warm one.

    .venv/bin/python benchmarks/rewards_score.py     # tiny Qwen2-VL trained for 0 steps, CPU, 112×112 clips
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

from rewards.checkpoint import Normalization, Position, save_checkpoint
from rewards.config import ModelConfig, RewardConfig, TrainConfig, VideoConfig
from rewards.network import RewardNetwork
from rewards.scorer import RewardScorer
from rewards.tiny_base import write_tiny_base

sys.path.insert(0, str(Path(__file__).parent))
from rewards_train import write_clips_and_pairs  # noqa: E402 - sibling benchmark script


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    n_videos, batch = 32, 8
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "media").mkdir()
        write_clips_and_pairs(tmp / "media", n_videos, 1, 112, 32, 8)
        config = RewardConfig(video=VideoConfig(min_pixels=784, max_pixels=112 * 112),
                              model=ModelConfig(base=str(write_tiny_base(tmp / "base"))),
                              train=TrainConfig(lora_r=4, lora_alpha=8))
        network = RewardNetwork.from_base(config.model.base, config.model)
        network.add_lora(config.train)
        network.parameter_groups(config.train)
        save_checkpoint(tmp / "model", network, config, Normalization.identity(), Position(0, 0))
        scorer = RewardScorer.from_pretrained(tmp / "model", cache_dir=tmp / "cache")
        videos = [tmp / "media" / f"v{i}.mp4" for i in range(n_videos)]
        prompts = [f"prompt {i}" for i in range(n_videos)]
        for label in ("cold cache (decode)", "warm cache"):
            start = time.perf_counter()
            scorer.score(videos, prompts, batch_size=batch)
            elapsed = time.perf_counter() - start
            print(f"{label}: {n_videos / elapsed:.1f} videos/s ({n_videos} videos of 4 s at 8 fps, 112×112, "
                  f"8 frames sampled, batch {batch}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
