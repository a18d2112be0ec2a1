"""The noise-aware latent reward model of reward guidance (REFERENCE §6, Flow-NRG).

It reads noisy latents directly: the first `num_blocks` blocks of the generator's transformer (frozen, with
its patch, time and text embeddings) followed by one small head per dimension on the mean-pooled tokens. It is
trained with the Bradley–Terry-with-ties loss on pairs noised at a random σ (shared by the two videos of a
pair), so its gradient is informative at every sampling step; `noisy=False` trains on clean latents, the
paper's Table 7 ablation.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from alignment.config import ConfigError
from alignment.dataset import ComparisonData
from alignment.flow_matching import SIGMA_SAMPLERS, add_noise, sample_sigma, sigma_to_timestep
from alignment.losses import btt_loss

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "latent_reward.safetensors"
CONFIG_FILE = "latent_reward.json"


def require_wan(family: str) -> None:
    """Raise ConfigError unless the generator is Wan: the latent reward model is built from Wan's transformer."""
    if family != "wan":
        raise ConfigError(f"the latent reward model (train-reward, reward guidance) supports only Wan generators, "
                          f"not {family}")


class LatentRewardModel(torch.nn.Module):
    def __init__(self, backbone: WanTransformer3DModel, dimensions: tuple[str, ...], head_hidden: int = 64) -> None:
        super().__init__()
        self.backbone = backbone.requires_grad_(False)
        self.dimensions = tuple(dimensions)
        width = backbone.config.num_attention_heads * backbone.config.attention_head_dim
        self.heads = torch.nn.ModuleDict(
            {
                d: torch.nn.Sequential(
                    torch.nn.LayerNorm(width),
                    torch.nn.Linear(width, head_hidden),
                    torch.nn.SiLU(),
                    torch.nn.Linear(head_hidden, 1),
                )
                for d in self.dimensions
            }
        )

    @classmethod
    def from_generator(
        cls,
        transformer: WanTransformer3DModel,
        num_blocks: int,
        dimensions: tuple[str, ...] = ("VQ", "MQ", "TA"),
        head_hidden: int = 64,
    ) -> LatentRewardModel:
        """Copy the embeddings and the first `num_blocks` blocks of a (base, adapter-free) generator."""
        from alignment.families import FAMILIES, unwrap

        model = unwrap(transformer)
        if not isinstance(model, WanTransformer3DModel):
            require_wan(next((f.name for f in FAMILIES.values() if isinstance(model, f.transformer_class)),
                             type(model).__name__))
        total = transformer.config.num_layers
        if not 1 <= num_blocks <= total:
            raise ConfigError(f"num_blocks must be in [1, {total}], got {num_blocks}")
        backbone = WanTransformer3DModel.from_config({**transformer.config, "num_layers": num_blocks})
        kept = {
            k: v
            for k, v in transformer.state_dict().items()
            if not k.startswith("blocks.") or int(k.split(".")[1]) < num_blocks
        }
        backbone.load_state_dict(kept, strict=True)
        return cls(backbone.to(transformer.dtype).eval(), dimensions, head_hidden)

    def forward(self, latents: torch.Tensor, sigma: torch.Tensor, embeds: torch.Tensor) -> torch.Tensor:
        """Rewards [B, K] of latents [B, C, F, H, W] at noise level σ [B] for prompt embeddings [B, L, D]."""
        b = self.backbone
        x = latents.to(b.dtype)
        rotary = b.rope(x)
        tokens = b.patch_embedding(x).flatten(2).transpose(1, 2)  # [B, N, width]
        _, timestep_proj, text, _ = b.condition_embedder(sigma_to_timestep(sigma).to(x), embeds.to(x), None)
        timestep_proj = timestep_proj.unflatten(1, (6, -1))
        for block in b.blocks:
            tokens = block(tokens, text, timestep_proj, rotary)
        pooled = tokens.mean(dim=1).float()
        return torch.cat([self.heads[d](pooled) for d in self.dimensions], dim=1)

    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_FILE)
        head_hidden = self.heads[self.dimensions[0]][1].out_features
        meta = {
            "dimensions": list(self.dimensions),
            "head_hidden": head_hidden,
            "backbone": dict(self.backbone.config),
            **(extra or {}),
        }
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2, default=list))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> LatentRewardModel:
        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{directory}: no {CONFIG_FILE} (not a latent reward model)")
        meta = json.loads((directory / CONFIG_FILE).read_text())
        backbone = WanTransformer3DModel.from_config(meta["backbone"])
        model = cls(backbone, tuple(meta["dimensions"]), meta["head_hidden"])
        model.load_state_dict(load_file(directory / WEIGHTS_FILE))
        return model.eval()


@dataclass
class LatentRewardConfig:
    num_blocks: int = 1
    dimensions: tuple[str, ...] = ("VQ", "MQ", "TA")
    head_hidden: int = 64
    noisy: bool = True  # False: clean latents only (σ = 0), the ablation
    timestep_sampling: str = "uniform"
    theta: float = 5.0
    learning_rate: float = 1e-3
    batch_size: int = 8
    max_steps: int = 200
    seed: int = 0
    progress_bar: bool = True

    def __post_init__(self) -> None:
        self.dimensions = tuple(self.dimensions)
        if self.timestep_sampling not in SIGMA_SAMPLERS:
            raise ConfigError(f"unknown timestep_sampling {self.timestep_sampling!r}")
        if self.theta <= 1:
            raise ConfigError(f"theta must be > 1, got {self.theta}")
        if min(self.num_blocks, self.head_hidden, self.batch_size, self.max_steps) < 1:
            raise ConfigError("num_blocks, head_hidden, batch_size and max_steps must be ≥ 1")
        if not self.dimensions:
            raise ConfigError("dimensions must not be empty")


@dataclass
class LatentRewardResult:
    model: LatentRewardModel
    history: list[dict[str, float]] = field(default_factory=list)


def train_latent_reward(
    transformer: WanTransformer3DModel,
    data: ComparisonData,
    config: LatentRewardConfig,
    out_dir: str | Path,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> LatentRewardResult:
    """BTT on pairs noised with one ε and one σ per pair; only the heads learn. Saved to `out_dir`."""
    if tuple(data.dimensions) != config.dimensions:
        raise ConfigError(f"data dimensions {data.dimensions} differ from the config's {config.dimensions}")
    torch.manual_seed(config.seed)
    model = LatentRewardModel.from_generator(transformer, config.num_blocks, config.dimensions, config.head_hidden)
    optimizer = torch.optim.AdamW(model.heads.parameters(), lr=config.learning_rate)
    g = torch.Generator().manual_seed(config.seed)
    history = []
    for step in tqdm(range(config.max_steps), disable=not config.progress_bar, desc="latent reward"):
        batch = data.batch(torch.randint(len(data), (config.batch_size,), generator=g))
        a, b = batch["latents_a"], batch["latents_b"]
        noise = torch.randn(a.shape, generator=g)
        if config.noisy:
            sigma = sample_sigma(len(a), g, config.timestep_sampling)
        else:
            sigma = torch.zeros(len(a))
        x = add_noise(torch.cat([a, b]), torch.cat([noise, noise]), torch.cat([sigma, sigma]))
        rewards = model(x, torch.cat([sigma, sigma]), torch.cat([batch["embeds"], batch["embeds"]]))
        r_a, r_b = rewards.chunk(2)
        out = btt_loss(r_a, r_b, batch["labels"], config.theta)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        history.append({"step": step + 1, **out.stats})
        if progress is not None:
            progress(step + 1, config.max_steps, out.stats)
    model.eval()
    model.save(out_dir, extra={"training": asdict(config), "final": history[-1]})
    return LatentRewardResult(model, history)
