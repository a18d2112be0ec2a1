"""Scoring videos with a trained reward model.

    scorer = RewardScorer.from_pretrained("runs/rm/model")
    scorer.score(["a.mp4", "b.mp4"], ["a cat", "a dog"])
    # → [{"VQ": 0.31, "MQ": -1.2, "TA": 0.8, "Overall": -0.09}, ...]

Scores are normalised per dimension with the mean/std measured on the validation split at training time;
Overall = VQ + MQ + TA of the normalised scores.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from rewards.checkpoint import Normalization, load_network
from rewards.clip_cache import ClipCache
from rewards.config import DIMENSIONS, RewardConfig
from rewards.network import RewardNetwork


class RewardScorer:
    def __init__(self, network: RewardNetwork, config: RewardConfig, normalization: Normalization,
                 device: torch.device | str = "cpu", cache_dir: str | Path | None = None) -> None:
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.config = config
        self.normalization = normalization
        self.cache = ClipCache(cache_dir, config.video)

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: torch.device | str | None = None,
                        base_dir: str | Path | None = None, cache_dir: str | Path | None = None) -> RewardScorer:
        network, config, normalization, _ = load_network(directory, base_dir)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(network, config, normalization, device, cache_dir)

    @torch.no_grad()
    def raw_rewards(self, videos: Sequence[str | Path], prompts: Sequence[str], batch_size: int = 8) -> torch.Tensor:
        """Unnormalised rewards (N, 3); a missing or corrupt video raises VideoDecodeError naming it."""
        if len(videos) != len(prompts):
            raise ValueError(f"{len(videos)} videos but {len(prompts)} prompts")
        out = []
        for start in range(0, len(videos), batch_size):
            patches = [self.cache.patches(v) for v in videos[start:start + batch_size]]
            inputs = self.network.encode(patches, list(prompts[start:start + batch_size])).to(self.device)
            out.append(self.network(inputs).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, len(DIMENSIONS))

    def score(self, videos: Sequence[str | Path], prompts: Sequence[str], batch_size: int = 8) -> list[dict[str, float]]:
        scores = self.normalization.apply(self.raw_rewards(videos, prompts, batch_size))
        results = []
        for row in scores.tolist():
            item = dict(zip(DIMENSIONS, row, strict=True))
            item["Overall"] = sum(row)
            results.append(item)
        return results
