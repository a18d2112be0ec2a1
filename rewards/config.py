"""Typed configuration of the reward model: video sampling, network layout, training recipe.

Every dataclass validates itself in ``__post_init__``: an unknown loss or token mode is an error, never a
silent default. ``RewardConfig.from_file`` reads JSON or TOML with the three sections ``video``, ``model``
and ``train``; unknown keys are errors too, so a typo in a config file cannot be ignored.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DIMENSIONS: tuple[str, ...] = ("VQ", "MQ", "TA")
LOSSES: tuple[str, ...] = ("bt", "btt", "regression")
TOKEN_MODES: tuple[str, ...] = ("separate", "shared")
PRECISIONS: tuple[str, ...] = ("no", "bf16", "fp16")
# The language model's linear layers in Qwen2-VL (not lm_head, not the reward head, not embeddings).
DEFAULT_LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class ConfigError(ValueError):
    """A configuration value or file is invalid; the message names the field."""


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass(frozen=True)
class VideoConfig:
    """How a video file becomes Qwen2-VL input (defaults: the VideoReward paper, REFERENCE §2)."""

    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 448 * 448
    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2

    def __post_init__(self) -> None:
        _require(self.fps > 0, f"video.fps must be > 0, got {self.fps}")
        _require(self.min_frames >= 1, f"video.min_frames must be >= 1, got {self.min_frames}")
        _require(self.min_frames % 2 == 0, f"video.min_frames must be even, got {self.min_frames}")
        _require(self.max_frames % 2 == 0, f"video.max_frames must be even, got {self.max_frames}")
        _require(self.max_frames >= self.min_frames,
                 f"video.max_frames ({self.max_frames}) must be >= video.min_frames ({self.min_frames})")
        _require(self.min_pixels >= self.factor ** 2,
                 f"video.min_pixels must be >= {self.factor ** 2} (one {self.factor}x{self.factor} block)")
        _require(self.max_pixels >= self.min_pixels,
                 f"video.max_pixels ({self.max_pixels}) must be >= video.min_pixels ({self.min_pixels})")
        _require(self.temporal_patch_size >= 1 and self.patch_size >= 1 and self.merge_size >= 1,
                 "video patch sizes must be >= 1")

    @property
    def factor(self) -> int:
        """Side lengths must be multiples of this (28 for Qwen2-VL: patch 14 × spatial merge 2)."""
        return self.patch_size * self.merge_size


@dataclass(frozen=True)
class ModelConfig:
    """The reward network's layout on top of a Qwen2-VL base model directory."""

    base: str = ""
    token_mode: str = "separate"
    # The paper's template puts the prompt after the VQ and MQ tokens, so they never see it (causal attention).
    vq_mq_see_prompt: bool = False
    # New reward-token rows start as the mean embedding ("mean"), or ("previous") as a copy of the token just
    # before each one in the template (the ":" of " Visual quality:" …), where a captioner base predicts that
    # dimension's summary: the head then starts reading what the base already computes there.
    reward_token_init: str = "mean"
    # Checklist words listed after each dimension's field name and before its reward token (VQ, MQ, TA; empty:
    # the paper's template). Each word is a question the model answers at its own position, and the reward token
    # can read the answers there (as VisionReward's checklist questions). On the tiny base it gave the best TA
    # figures measured (docs/rewards/README.md); the per-word evidence that motivated it (frozen r 0.93 at its
    # caption word) proved teacher-forced. See rewards.pretrain_sequences.
    checklist: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        # Lists from JSON/TOML become tuples so the frozen dataclass stays hashable.
        object.__setattr__(self, "checklist", tuple(tuple(words) for words in self.checklist))
        _require(not self.checklist or (len(self.checklist) == 3 and self.token_mode == "separate"),
                 "model.checklist needs separate tokens and three word lists (VQ, MQ, TA)")
        _require(all(isinstance(w, str) and w.strip() and w == w.strip() for ws in self.checklist for w in ws),
                 "model.checklist words must be non-empty strings without surrounding spaces")
        _require(self.token_mode in TOKEN_MODES,
                 f"model.token_mode must be one of {TOKEN_MODES}, got {self.token_mode!r}")
        _require(self.reward_token_init in ("mean", "previous"),
                 f"model.reward_token_init must be 'mean' or 'previous', got {self.reward_token_init!r}")
        # One shared token has to read the prompt for TA, so VQ/MQ see it too; say so rather than ignore it.
        _require(self.token_mode == "separate" or self.vq_mq_see_prompt,
                 "model.token_mode 'shared' needs model.vq_mq_see_prompt = true (the one token sees the prompt)")


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; defaults follow the public VideoReward script except where noted."""

    loss: str = "btt"
    theta: float = 5.0
    # Regression centres each MOS (1-5 scale) on this value.
    mos_center: float = 3.0
    lora_r: int = 64
    lora_alpha: int = 128
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS
    train_vision: bool = True
    train_merger: bool = True
    train_lora: bool = True
    lr_head: float = 2e-6
    lr_embeddings: float = 2e-6
    lr_lora: float = 2e-6
    lr_vision: float = 2e-6
    lr_merger: float = 2e-6
    weight_decay: float = 0.0
    batch_size: int = 1
    grad_accum: int = 4
    epochs: int = 2
    warmup_ratio: float = 0.05
    max_grad_norm: float = 1.0
    precision: str = "no"
    seed: int = 0
    val_fraction: float = 0.1
    num_workers: int = 0
    save_every_steps: int = 0

    def __post_init__(self) -> None:
        _require(self.loss in LOSSES, f"train.loss must be one of {LOSSES}, got {self.loss!r}")
        _require(self.theta > 1.0, f"train.theta must be > 1 (Rao-Kupper ties), got {self.theta}")
        _require(self.precision in PRECISIONS,
                 f"train.precision must be one of {PRECISIONS}, got {self.precision!r}")
        _require(self.lora_r >= 1, f"train.lora_r must be >= 1, got {self.lora_r}")
        _require(0.0 <= self.lora_dropout < 1.0, f"train.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        _require(self.batch_size >= 1, f"train.batch_size must be >= 1, got {self.batch_size}")
        _require(self.grad_accum >= 1, f"train.grad_accum must be >= 1, got {self.grad_accum}")
        _require(self.epochs >= 1, f"train.epochs must be >= 1, got {self.epochs}")
        _require(0.0 <= self.warmup_ratio < 1.0, f"train.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        _require(0.0 < self.val_fraction < 1.0, f"train.val_fraction must be in (0, 1), got {self.val_fraction}")
        _require(self.num_workers >= 0, f"train.num_workers must be >= 0, got {self.num_workers}")
        _require(self.save_every_steps >= 0, f"train.save_every_steps must be >= 0, got {self.save_every_steps}")
        for name in ("lr_head", "lr_embeddings", "lr_lora", "lr_vision", "lr_merger"):
            _require(getattr(self, name) > 0, f"train.{name} must be > 0, got {getattr(self, name)}")
        # Lists from JSON/TOML become tuples so the frozen dataclass stays hashable.
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))


@dataclass(frozen=True)
class RewardConfig:
    """The whole configuration of one reward-model run."""

    video: VideoConfig = field(default_factory=VideoConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> RewardConfig:
        sections = {"video": VideoConfig, "model": ModelConfig, "train": TrainConfig}
        unknown = set(data) - set(sections)
        _require(not unknown, f"{source}: unknown section(s) {sorted(unknown)}; expected {sorted(sections)}")
        built = {}
        for name, klass in sections.items():
            values = data.get(name, {})
            _require(isinstance(values, dict), f"{source}: section {name!r} must be a table/object")
            known = {f.name for f in fields(klass)}
            bad = set(values) - known
            _require(not bad, f"{source}: unknown key(s) {sorted(bad)} in section {name!r}")
            try:
                built[name] = klass(**values)
            except TypeError as exc:
                raise ConfigError(f"{source}: section {name!r}: {exc}") from exc
        return cls(**built)

    @classmethod
    def from_file(cls, path: str | Path) -> RewardConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot parse: {exc}") from exc
        return cls.from_dict(data, source=str(path))
