"""Training data as tensors: latents of unique videos, embeddings of unique prompts, and index rows.

Videos and prompts recur across pairs, so each is encoded and stored once; an item is a row of indices.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from alignment.generator import Generator
from alignment.latents import ClipSpec, LatentCache
from alignment.pairs import LABEL_VALUES, Comparison, PairsError, PreferencePair, ScoredSample, VideoRef


@dataclass
class PairData:
    latents: torch.Tensor  # [V, C, F, H, W]
    embeds: torch.Tensor  # [P, L, D]
    rows: torch.Tensor  # [N, 3] long: winner, loser, prompt

    def __post_init__(self) -> None:
        if self.rows.ndim != 2 or self.rows.shape[1] != 3 or len(self.rows) == 0:
            raise PairsError(f"pair data needs a non-empty [N, 3] index table, got {tuple(self.rows.shape)}")

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_tensors(
        cls, latents_w: torch.Tensor, latents_l: torch.Tensor, embeds: torch.Tensor
    ) -> PairData:
        """Pairs given directly as latents (one prompt embedding per pair)."""
        if latents_w.shape != latents_l.shape:
            raise PairsError(
                f"winner and loser latents differ in shape: {tuple(latents_w.shape)} vs {tuple(latents_l.shape)}"
            )
        if len(embeds) != len(latents_w):
            raise PairsError(f"{len(latents_w)} pairs but {len(embeds)} prompt embeddings")
        n = len(latents_w)
        idx = torch.arange(n)
        return cls(torch.cat([latents_w, latents_l]), embeds, torch.stack([idx, idx + n, idx], dim=1))

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        r = self.rows[indices]
        return {"latents_w": self.latents[r[:, 0]], "latents_l": self.latents[r[:, 1]], "embeds": self.embeds[r[:, 2]]}


@dataclass
class SampleData:
    latents: torch.Tensor  # [V, C, F, H, W]
    embeds: torch.Tensor  # [P, L, D]
    rows: torch.Tensor  # [N, 2] long: video, prompt
    rewards: torch.Tensor  # [N]

    def __post_init__(self) -> None:
        if len(self.rows) == 0 or len(self.rows) != len(self.rewards):
            raise PairsError(f"sample data needs one reward per sample, got {len(self.rows)} and {len(self.rewards)}")

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        r = self.rows[indices]
        return {"latents": self.latents[r[:, 0]], "embeds": self.embeds[r[:, 1]], "rewards": self.rewards[indices]}


@dataclass
class ComparisonData:
    """Labelled comparisons for the latent reward model: labels +1 (A), −1 (B), 0 (tie), NaN (invalid)."""

    latents: torch.Tensor  # [V, C, F, H, W]
    embeds: torch.Tensor  # [P, L, D]
    rows: torch.Tensor  # [N, 3] long: video A, video B, prompt
    labels: torch.Tensor  # [N, K] float, one column per dimension
    dimensions: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.rows) == 0 or self.labels.shape != (len(self.rows), len(self.dimensions)):
            raise PairsError(
                f"comparison data needs [N, {len(self.dimensions)}] labels for N > 0 rows, "
                f"got {tuple(self.labels.shape)} for {len(self.rows)}"
            )

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        r = self.rows[indices]
        return {
            "latents_a": self.latents[r[:, 0]],
            "latents_b": self.latents[r[:, 1]],
            "embeds": self.embeds[r[:, 2]],
            "labels": self.labels[indices],
        }


class _Indexer:
    """Encodes each unique video and prompt once."""

    def __init__(self, generator: Generator, spec: ClipSpec, cache_dir: Path) -> None:
        self.cache = LatentCache(cache_dir, generator.codec, spec)
        self.generator = generator
        self.videos: dict[Path, int] = {}
        self.prompts: dict[str, int] = {}
        self._latents: list[torch.Tensor] = []

    def video(self, ref: VideoRef) -> int:
        if ref.path not in self.videos:
            self.videos[ref.path] = len(self._latents)
            self._latents.append(self.cache.get(ref.path, ref.fps, ref.num_frames))
        return self.videos[ref.path]

    def prompt(self, text: str) -> int:
        return self.prompts.setdefault(text, len(self.prompts))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        embeds = self.generator.encode_prompts(list(self.prompts)) if self.prompts else torch.empty(0)
        return torch.stack(self._latents), embeds


def prepare_pairs(generator: Generator, pairs: Sequence[PreferencePair], spec: ClipSpec, cache_dir: Path) -> PairData:
    if not pairs:
        raise PairsError("no decided preference pair to train on")
    ix = _Indexer(generator, spec, cache_dir)
    rows = [(ix.video(p.winner), ix.video(p.loser), ix.prompt(p.prompt)) for p in pairs]
    latents, embeds = ix.tensors()
    return PairData(latents, embeds, torch.tensor(rows, dtype=torch.long))


def prepare_samples(
    generator: Generator,
    samples: Sequence[ScoredSample],
    weights: dict[str, float],
    spec: ClipSpec,
    cache_dir: Path,
    center_per_prompt: bool = True,
) -> SampleData:
    """Scored samples with the weighted reward; centring per prompt removes prompt difficulty from the weights."""
    if not samples:
        raise PairsError("no scored sample to train on")
    ix = _Indexer(generator, spec, cache_dir)
    rows = [(ix.video(s.video), ix.prompt(s.prompt)) for s in samples]
    rewards = torch.tensor([s.reward(weights) for s in samples], dtype=torch.float32)
    if center_per_prompt:
        prompt_ids = torch.tensor([r[1] for r in rows])
        means = torch.zeros(len(ix.prompts)).index_add_(0, prompt_ids, rewards)
        counts = torch.zeros(len(ix.prompts)).index_add_(0, prompt_ids, torch.ones_like(rewards))
        rewards = rewards - (means / counts)[prompt_ids]
    latents, embeds = ix.tensors()
    return SampleData(latents, embeds, torch.tensor(rows, dtype=torch.long), rewards)


def prepare_comparisons(
    generator: Generator,
    comparisons: Sequence[Comparison],
    dimensions: Sequence[str],
    spec: ClipSpec,
    cache_dir: Path,
) -> ComparisonData:
    if not comparisons:
        raise PairsError("no comparison to train on")
    ix = _Indexer(generator, spec, cache_dir)
    rows = [(ix.video(c.video_a), ix.video(c.video_b), ix.prompt(c.prompt)) for c in comparisons]
    labels = torch.tensor(
        [[float(LABEL_VALUES.get(c.labels.get(d, ""), float("nan"))) for d in dimensions] for c in comparisons]
    )
    latents, embeds = ix.tensors()
    return ComparisonData(latents, embeds, torch.tensor(rows, dtype=torch.long), labels, tuple(dimensions))
