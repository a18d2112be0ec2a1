"""Reward-model checkpoints: what training changed, plus everything needed to score or resume.

Layout of a checkpoint directory:
- ``reward_config.json``: the RewardConfig, the base-model directory, the per-dimension normalisation
  (mean/std of rewards measured on the validation split) and the training position (epoch, step).
- ``trainable.safetensors``: LoRA adapter, head, reward-token embedding rows, and the vision tower/merger
  when they were trained — not the frozen base weights, which stay in the base directory.
- ``tokenizer/``: the tokenizer with the reward tokens.
- ``training_state.pt``: optimizer and scheduler state, for resuming only.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rewards.config import DIMENSIONS, RewardConfig
from rewards.network import RewardNetwork

CONFIG_FILE = "reward_config.json"
WEIGHTS_FILE = "trainable.safetensors"
STATE_FILE = "training_state.pt"


class CheckpointError(ValueError):
    """A checkpoint directory is missing a file or does not match; the message names it."""


@dataclass(frozen=True)
class Normalization:
    mean: dict[str, float]
    std: dict[str, float]

    @classmethod
    def identity(cls) -> Normalization:
        return cls(mean=dict.fromkeys(DIMENSIONS, 0.0), std=dict.fromkeys(DIMENSIONS, 1.0))

    @classmethod
    def measure(cls, rewards: torch.Tensor) -> Normalization:
        """From rewards (N, 3) of the validation videos; a zero spread falls back to 1."""
        mean = rewards.mean(0)
        std = rewards.std(0, unbiased=False)
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        return cls(mean={d: float(mean[i]) for i, d in enumerate(DIMENSIONS)},
                   std={d: float(std[i]) for i, d in enumerate(DIMENSIONS)})

    def apply(self, rewards: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor([self.mean[d] for d in DIMENSIONS], dtype=rewards.dtype, device=rewards.device)
        std = torch.tensor([self.std[d] for d in DIMENSIONS], dtype=rewards.dtype, device=rewards.device)
        return (rewards - mean) / std


@dataclass(frozen=True)
class Position:
    epoch: int  # epochs fully done
    global_step: int  # optimizer steps done
    batches_done: int = 0  # batches of the current (unfinished) epoch already consumed


def save_checkpoint(
    directory: Path,
    network: RewardNetwork,
    config: RewardConfig,
    normalization: Normalization,
    position: Position,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> Path:
    """Write the checkpoint whole or not at all: into a hidden sibling folder, renamed into place at the end, so a
    worker killed mid-save leaves the previous checkpoint as the latest one, never a truncated file to resume from
    (which glob("step-*") would otherwise have picked)."""
    directory = Path(directory)
    partial = directory.parent / f".{directory.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)  # left by a save that was killed
    partial.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in network.trainable_state().items()}, str(partial / WEIGHTS_FILE))
    network.tokenizer.save_pretrained(partial / "tokenizer")
    meta = {
        "config": config.to_dict(),
        "normalization": asdict(normalization),
        "position": asdict(position),
        "reward_token_ids": network.reward_token_ids,
    }
    (partial / CONFIG_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if optimizer is not None:
        torch.save({"optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None},
                   partial / STATE_FILE)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(partial, directory)
    return directory


def read_meta(directory: Path) -> tuple[RewardConfig, Normalization, Position]:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"not a reward checkpoint (no {CONFIG_FILE}): {directory}")
    meta = json.loads(path.read_text(encoding="utf-8"))
    return (RewardConfig.from_dict(meta["config"], source=str(path)), Normalization(**meta["normalization"]),
            Position(**meta["position"]))


def load_network(directory: str | Path, base_dir: str | Path | None = None) -> tuple[RewardNetwork, RewardConfig,
                                                                                   Normalization, Position]:
    """Rebuild the network from its base directory (or ``base_dir`` if the base moved) and load the weights."""
    directory = Path(directory)
    config, normalization, position = read_meta(directory)
    base = Path(base_dir) if base_dir is not None else Path(config.model.base)
    network = RewardNetwork.from_base(base, config.model)
    saved_ids = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))["reward_token_ids"]
    if network.reward_token_ids != saved_ids:
        raise CheckpointError(f"{directory}: reward token ids {saved_ids} do not match base {base} "
                              f"({network.reward_token_ids}); was the base tokenizer changed?")
    if config.train.train_lora:
        network.add_lora(config.train)
    network.parameter_groups(config.train)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights missing: {weights}")
    network.load_trainable_state(load_file(str(weights)))
    return network, config, normalization, position


def load_training_state(directory: Path) -> dict[str, Any]:
    path = directory / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"cannot resume: no {STATE_FILE} in {directory}")
    return torch.load(path, map_location="cpu", weights_only=False)
