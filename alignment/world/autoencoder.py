"""Training the tiny base's frame autoencoder on its own clip set (the first stage of `pretrain-base` with
`"codec": "frame_autoencoder"`).

The loss is a per-pixel MSE + L1 in which the subject weighs `subject_weight` times more than the background: the
subject covers ~2% of a 40-px frame, and unweighted the reconstruction learns backgrounds first and the subject —
the part the quality gate reads — last. A pixel is "subject" when it differs from the clip's median over frames
(the subject moves, the background does not). A fixed Gaussian noise on the latents in training makes the decoder
tolerate slightly wrong latents (as a generated sample's are), and a small penalty on the latents' square keeps
the encoder from outscaling that noise.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from alignment.config import ConfigError
from alignment.frame_autoencoder import FrameAutoencoder, FrameAutoencoderConfig

logger = logging.getLogger(__name__)


@dataclass
class AutoencoderTrainConfig:
    width: int = 32
    latent_channels: int = 8
    levels: int = 2
    steps: int = 2500
    batch_size: int = 8  # clips (of F frames each)
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    subject_weight: float = 20.0
    l1_weight: float = 0.5
    latent_noise: float = 0.1
    latent_penalty: float = 1e-3
    log_every: int = 100

    def __post_init__(self) -> None:
        for name in ("width", "latent_channels", "levels", "steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain.autoencoder: {name} must be ≥ 1, got {getattr(self, name)}")
        if self.learning_rate <= 0 or min(self.subject_weight, self.l1_weight, self.latent_noise,
                                          self.latent_penalty, self.warmup_steps) < 0:
            raise ConfigError("pretrain.autoencoder: learning_rate > 0 and non-negative weights needed")

    def model_config(self) -> FrameAutoencoderConfig:
        return FrameAutoencoderConfig(width=self.width, latent_channels=self.latent_channels, levels=self.levels)


def frames_tensor(clips: np.ndarray) -> torch.Tensor:
    """uint8 [B, F, H, W, 3] → float [B, F, 3, H, W] in [−1, 1]."""
    return torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0


def subject_mask(frames: torch.Tensor) -> torch.Tensor:
    """bool [B, F, 1, H, W]: pixels of frames [B, F, 3, H, W] that differ from their clip's median frame by more
    than 0.1 (on the [−1, 1] scale) in any channel — the moving subject; the background stays put."""
    background = frames.median(dim=1, keepdim=True).values
    return (frames - background).abs().amax(dim=2, keepdim=True) > 0.1


def subject_weights(frames: torch.Tensor, subject_weight: float) -> torch.Tensor:
    """[B, F, 1, H, W] weights of mean 1: 1 + subject_weight where a pixel differs from its clip's median frame."""
    weight = 1.0 + subject_weight * subject_mask(frames).float()
    return weight / weight.mean()


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, latents: torch.Tensor,
                        config: AutoencoderTrainConfig) -> torch.Tensor:
    error = recon - target
    return ((weight * error.pow(2)).mean() + config.l1_weight * (weight * error.abs()).mean()
            + config.latent_penalty * latents.pow(2).mean())


def _lr(step: int, config: AutoencoderTrainConfig) -> float:
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    return warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / config.steps))))


def train_frame_autoencoder(
    config: AutoencoderTrainConfig, clips: np.ndarray, seed: int = 0, stop: Callable[[], bool] | None = None,
) -> tuple[FrameAutoencoder, list[dict[str, float]]]:
    """Train on uint8 clips [N, F, H, W, 3]; the returned model (eval mode) carries its latent mean/std."""
    size = clips.shape[2]
    model_config = config.model_config()
    if size % model_config.factor:
        raise ConfigError(f"pretrain.autoencoder: {size}-px frames do not halve {config.levels} times")
    torch.manual_seed(seed)
    model = FrameAutoencoder(model_config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr(s, config))
    rng = np.random.default_rng(seed)
    cpu0 = time.process_time()
    history: list[dict[str, float]] = []
    running = 0.0
    for step in range(1, config.steps + 1):
        frames = frames_tensor(clips[np.sort(rng.choice(len(clips), size=config.batch_size, replace=False))])
        weight = subject_weights(frames, config.subject_weight)
        flat = frames.flatten(0, 1)
        latents = model.encode(flat)
        recon = model.decode(latents + config.latent_noise * torch.randn_like(latents)).view_as(frames)
        loss = reconstruction_loss(recon, frames, weight, latents, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        running += loss.item()
        if step % config.log_every == 0:
            history.append({"step": step, "loss": running / config.log_every, "cpu_s": time.process_time() - cpu0})
            logger.info("autoencoder step %d loss %.4f (cpu %.0f s)", step, running / config.log_every,
                        history[-1]["cpu_s"])
            running = 0.0
        if stop is not None and stop():
            logger.warning("autoencoder: stopped at step %d (CPU budget)", step)
            break
    model.eval().requires_grad_(False)
    set_latent_stats(model, clips)
    return model, history


@torch.no_grad()
def set_latent_stats(model: FrameAutoencoder, clips: np.ndarray, sample: int = 512, batch: int = 32) -> None:
    """Per-channel mean and std of the latents of (a sample of) the training clips, into the model's config."""
    rng = np.random.default_rng(1)
    idx = np.sort(rng.choice(len(clips), size=min(sample, len(clips)), replace=False))
    latents = torch.cat([model.encode(frames_tensor(clips[idx[i:i + batch]]).flatten(0, 1))
                         for i in range(0, len(idx), batch)])
    model.config.latents_mean = [float(v) for v in latents.mean(dim=(0, 2, 3))]
    model.config.latents_std = [float(v) for v in latents.std(dim=(0, 2, 3)).clamp_min(1e-4)]
