"""Typed configuration of alignment runs, validated on construction (an unknown name is an error)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# Names only: configs are validated in web processes, which never import torch; alignment.flow_matching and
# alignment.losses hold the functions (a test keeps the names in step).
SIGMA_SAMPLERS = ("logit_normal", "uniform")
BETA_SCHEDULES = ("constant", "one_minus_t_squared")

METHODS = ("flow-dpo", "flow-rwr", "sft", "diffusion-dpo")
# which kind of model each method trains (alignment.families: a family's `objective`)
# (defined here, beside the methods, so that the config needs no diffusers import; alignment.families uses them)
FLOW_MATCHING, DIFFUSION = "flow_matching", "diffusion"
METHOD_OBJECTIVES = {"flow-dpo": FLOW_MATCHING, "flow-rwr": FLOW_MATCHING, "sft": FLOW_MATCHING,
                     "diffusion-dpo": DIFFUSION}
PRECISIONS = ("no", "bf16", "fp16")


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field."""


@dataclass
class LoraSettings:
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    # the attention projections of Wan, LTX-Video and CogVideoX alike (HuViDPO's choice)
    targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")

    def __post_init__(self) -> None:
        self.targets = tuple(self.targets)
        if self.rank < 1:
            raise ConfigError(f"lora.rank must be ≥ 1, got {self.rank}")
        if self.alpha <= 0:
            raise ConfigError(f"lora.alpha must be positive, got {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if not self.targets:
            raise ConfigError("lora.targets must name at least one module")


@dataclass
class ClipSettings:
    """The shape every training video is conformed to before encoding."""

    num_frames: int = 9
    height: int = 32
    width: int = 32
    fps: float | None = None  # None: consecutive frames at the source rate

    def __post_init__(self) -> None:
        if min(self.num_frames, self.height, self.width) < 1:
            raise ConfigError(f"clip sizes must be positive, got {self}")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"clip.fps must be positive, got {self.fps}")


@dataclass
class TrainConfig:
    method: str
    # Flow-DPO: constant β by default (REFERENCE §6); "one_minus_t_squared" is the hacking-prone ablation.
    beta: float = 100.0
    beta_schedule: str = "constant"
    sft_weight: float = 0.0  # Flow-DPO only: an SFT anchor on winners, a guard against reward hacking
    # Diffusion-DPO (ε/v-prediction models) draws t ~ U{0..T−1}, as Diffusion-DPO does (the timestep_sampling
    # fields are σ distributions of the flow methods); β ≈ 2500–5000 on ε models, HuViDPO ≈ 50. Its first
    # `skip_first_frames` latent frames (a conditioning first frame) are left out of the error.
    skip_first_frames: int = 0
    rwr_temperature: float = 1.0
    rwr_center_per_prompt: bool = True
    dimension_weights: dict[str, float] = field(default_factory=lambda: {"VQ": 1.0, "MQ": 1.0, "TA": 1.0})
    lora: LoraSettings = field(default_factory=LoraSettings)
    clip: ClipSettings = field(default_factory=ClipSettings)
    learning_rate: float = 5e-6
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    batch_size: int = 1  # pairs (or samples) per micro-batch
    gradient_accumulation: int = 1
    max_steps: int = 100  # optimiser steps
    precision: str = "no"
    seed: int = 0
    timestep_sampling: str = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    timestep_shift: float = 1.0
    gradient_checkpointing: bool = False
    checkpoint_every: int = 0  # optimiser steps between checkpoints; 0 = only the final one
    # held-out pairs (prompts disjoint from training): implicit accuracy every `eval_every` steps, the best LoRA
    # kept, and training stopped after `early_stopping_patience` evaluations without improvement (0 = never)
    heldout_fraction: float = 0.0
    eval_every: int = 0
    early_stopping_patience: int = 0
    heldout_draws: int = 1  # (ε, σ) draws per held-out pair, errors averaged before the implicit accuracy
    progress_bar: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = _build(LoraSettings, self.lora, "lora")
        if isinstance(self.clip, dict):
            self.clip = _build(ClipSettings, self.clip, "clip")
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ConfigError(f"unknown beta_schedule {self.beta_schedule!r}; choose one of {sorted(BETA_SCHEDULES)}")
        if self.method == "diffusion-dpo" and (self.beta_schedule != "constant" or self.sft_weight):
            raise ConfigError("diffusion-dpo takes a constant beta_schedule and no sft_weight (Flow-DPO options)")
        if self.skip_first_frames < 0 or (self.skip_first_frames and self.method != "diffusion-dpo"):
            raise ConfigError("skip_first_frames must be ≥ 0 and is a diffusion-dpo option")
        if self.timestep_sampling not in SIGMA_SAMPLERS:
            raise ConfigError(
                f"unknown timestep_sampling {self.timestep_sampling!r}; choose one of {sorted(SIGMA_SAMPLERS)}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        for name in ("beta", "learning_rate", "rwr_temperature", "timestep_shift", "logit_std", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("batch_size", "gradient_accumulation", "max_steps", "heldout_draws"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if min(self.sft_weight, self.weight_decay, self.checkpoint_every, self.eval_every) < 0:
            raise ConfigError("sft_weight, weight_decay, checkpoint_every and eval_every must be ≥ 0")
        if not 0 <= self.heldout_fraction < 1:
            raise ConfigError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}")
        if self.early_stopping_patience < 0 or (self.early_stopping_patience and not self.eval_every):
            raise ConfigError("early_stopping_patience needs eval_every > 0 and must be ≥ 0")
        unknown = set(self.dimension_weights) - {"VQ", "MQ", "TA", "Overall"}
        if unknown:
            raise ConfigError(f"dimension_weights: unknown dimension(s) {', '.join(sorted(unknown))}")
        if not any(self.dimension_weights.values()):
            raise ConfigError("dimension_weights: at least one weight must be non-zero")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        return _build(cls, values, "config")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON ({exc})") from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object")
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
