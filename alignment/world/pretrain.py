"""`pretrain-base`: flow-matching pretraining of a tiny Wan generator on synthetic clips, saved as a model
directory that `load_generator` reads (the same from_pretrained path as a released checkpoint).

What makes a CPU-sized model learn colour, shape AND motion (a probe with 512 tokens and a byte-level text encoder
learned colour only):
- a learned latent space (`"codec": "frame_autoencoder"`): a small per-frame autoencoder is trained first on the
  same clips (`alignment.world.autoencoder`), every clip is encoded once, and the transformer learns on those
  latents (8 channels at a quarter of the side; 1×2×2 patches: 200 tokens of 32 values). With the invertible
  codec below the model drew token-aligned squares: it never learned the detail inside a token;
- few tokens: with the default codec, a 4× chroma-unshuffle (luma at full, chroma at half resolution, as in yuv420 video: 24 channels)
  and 1×2×2 patches turn an 8×40×40 clip into 8×5×5 = 200 tokens of 96 values each — no more values than the
  transformer's width of 128, because the velocity target contains the noise and a narrower token cannot pass
  it through (a first run with 384-value tokens plateaued at 0.7 MSE and sampled pure noise);
- learned attribute embeddings: a word-level tokenizer over the prompt grammar and a one-layer UMT5 encoder trained
  jointly with the transformer (`alignment.world.grammar_text`);
- an EMA of the weights for sampling, and prompt dropout so that classifier-free guidance has an unconditional
  branch (the empty prompt, the sampler's default negative prompt).
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alignment.codec import ChromaUnshuffleCodec, LatentCodec
from alignment.config import ConfigError
from alignment.flow_matching import (
    SIGMA_SAMPLERS,
    add_noise,
    per_sample_mse,
    sample_sigma,
    sigma_to_timestep,
    velocity_target,
)
from alignment.world.autoencoder import (
    AutoencoderTrainConfig,
    frames_tensor,
    subject_mask,
    train_frame_autoencoder,
)
from alignment.world.clips import ClipSet, ClipSetConfig

logger = logging.getLogger(__name__)

PRETRAIN_META = "pretrain.json"
# "chroma_unshuffle": the exactly invertible yuv420 patch transform; "frame_autoencoder": a small per-frame
# autoencoder trained first on the same clips (alignment.frame_autoencoder; why in its docstring)
PRETRAIN_CODECS = ("chroma_unshuffle", "frame_autoencoder")


@dataclass
class PretrainConfig:
    clips: ClipSetConfig = field(default_factory=ClipSetConfig)
    steps: int = 2500
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    ema_decay: float = 0.998
    prompt_dropout: float = 0.1
    # transformer: width = heads × head_dim; a 4× chroma-unshuffle (24 channels) + (1, 2, 2) patches = 8×8 pixels
    # of one frame per token, 96 values: no more than the width, so the noise in the target can pass through
    num_layers: int = 4
    num_attention_heads: int = 4
    attention_head_dim: int = 32
    ffn_dim: int = 256
    text_dim: int = 64
    text_layers: int = 1
    codec: str = "chroma_unshuffle"
    unshuffle: int = 4  # the chroma_unshuffle factor
    autoencoder: AutoencoderTrainConfig = field(default_factory=AutoencoderTrainConfig)
    # reuse the frame autoencoder of an earlier pretrain-base model directory (trained on this world's clips; its
    # training CPU time is carried into this run's record) instead of training one
    autoencoder_from: str | None = None
    patch_size: tuple[int, int, int] = (1, 2, 2)
    max_sequence_length: int = 20
    # σ ~ U(0, 1) trains every noise level equally: logit-normal (the large-model default) rarely draws
    # σ > 0.9, where sampling starts and where a tiny model must learn to commit to one layout
    sigma_sampling: str = "uniform"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    sampling_shift: float = 1.0  # the saved scheduler's shift (pixel-space clips this small need little)
    # the same shift applied to the training σ draws (σ = s·u / (1 + (s − 1)·u)): s = 3 trains σ > 0.9 on 25% of
    # draws instead of 10%, the stage where a sample commits to one subject on one trajectory
    train_shift: float = 1.0
    # The subject covers ~2% of a frame, so an unweighted loss spends the model on backgrounds. Latent cells under
    # the moving subject (pixels that differ from the clip's median frame, max-pooled to the latent grid) weigh
    # this much more (0: unweighted; measured at 10: two subjects per frame, not in the recipe).
    subject_weight: float = 0.0
    seed: int = 0
    threads: int = 2
    max_cpu_seconds: float | None = None  # stop early when the process has used this much CPU time
    pause_file: str | None = None  # while this file exists, training sleeps (a shared machine being measured)
    log_every: int = 50
    save_every: int = 0  # also write `<out>-step<N>` model directories every N steps (0 = only the final one)

    def __post_init__(self) -> None:
        if isinstance(self.clips, dict):
            self.clips = ClipSetConfig(**self.clips)
        if isinstance(self.autoencoder, dict):
            self.autoencoder = AutoencoderTrainConfig(**self.autoencoder)
        if self.codec not in PRETRAIN_CODECS:
            raise ConfigError(f"pretrain: codec must be one of {', '.join(PRETRAIN_CODECS)}, got {self.codec!r}")
        self.patch_size = tuple(self.patch_size)  # type: ignore[assignment]
        for name in ("steps", "batch_size", "num_layers", "num_attention_heads", "attention_head_dim", "ffn_dim",
                     "text_dim", "unshuffle", "max_sequence_length", "threads", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain: {name} must be ≥ 1, got {getattr(self, name)}")
        if self.text_layers < 0:
            raise ConfigError(f"pretrain: text_layers must be ≥ 0 (0: word embeddings only), got {self.text_layers}")
        if self.sigma_sampling not in SIGMA_SAMPLERS:
            raise ConfigError(f"pretrain: sigma_sampling must be one of {sorted(SIGMA_SAMPLERS)}, "
                              f"got {self.sigma_sampling!r}")
        if self.train_shift <= 0 or self.sampling_shift <= 0:
            raise ConfigError("pretrain: train_shift and sampling_shift must be > 0")
        if self.subject_weight < 0:
            raise ConfigError(f"pretrain: subject_weight must be ≥ 0, got {self.subject_weight}")
        if self.learning_rate <= 0 or not 0 <= self.ema_decay < 1 or not 0 <= self.prompt_dropout < 1:
            raise ConfigError("pretrain: learning_rate > 0, ema_decay in [0, 1), prompt_dropout in [0, 1) needed")
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ConfigError(f"pretrain: patch_size must be three positive ints, got {self.patch_size}")
        if self.unshuffle % 2:
            raise ConfigError(f"pretrain: unshuffle must be even (chroma is halved first), got {self.unshuffle}")
        factor = self.unshuffle if self.codec == "chroma_unshuffle" else 2**self.autoencoder.levels
        side = self.clips.size // factor
        if self.clips.size % factor or side % self.patch_size[1] or self.clips.frames % self.patch_size[0]:
            raise ConfigError(
                f"pretrain: {self.clips.frames}×{self.clips.size}² clips do not tile into the codec's ÷{factor}"
                f" and patches {self.patch_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PretrainResult:
    out_dir: Path
    steps: int
    history: list[dict[str, float]]
    wall_s: float
    cpu_s: float
    parameters: int


def build_parts(config: PretrainConfig, codec: LatentCodec | None = None) -> tuple[Any, Any, Any, LatentCodec]:
    """(tokenizer, text encoder, transformer, codec) with random weights, seeded by the config; `codec` (a
    trained frame autoencoder's) replaces the chroma-unshuffle one."""
    from diffusers import WanTransformer3DModel

    from alignment.world.grammar_text import build_grammar_text_encoder, build_grammar_tokenizer

    torch.manual_seed(config.seed)
    tokenizer = build_grammar_tokenizer()
    text_encoder = build_grammar_text_encoder(len(tokenizer), config.text_dim, config.text_layers)
    codec = codec or ChromaUnshuffleCodec(config.unshuffle)
    channels = codec.latent_shape(1, config.clips.size, config.clips.size)[0]
    transformer = WanTransformer3DModel(
        patch_size=config.patch_size,
        num_attention_heads=config.num_attention_heads,
        attention_head_dim=config.attention_head_dim,
        in_channels=channels,
        out_channels=channels,
        text_dim=config.text_dim,
        freq_dim=256,
        ffn_dim=config.ffn_dim,
        num_layers=config.num_layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return tokenizer, text_encoder, transformer, codec


def clips_to_video(frames: np.ndarray) -> torch.Tensor:
    """uint8 [B, F, H, W, 3] → float [B, 3, F, H, W] in [−1, 1] (the codec's input convention)."""
    return torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def _lr_factor(step: int, config: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10%."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _wait_while_paused(pause_file: str | None) -> None:
    if pause_file is None:
        return
    while os.path.exists(pause_file):
        time.sleep(30)


def pretrain(config: PretrainConfig, clips: ClipSet, out_dir: str | Path) -> PretrainResult:
    """Train on `clips` and save a model directory at `out_dir` (the EMA weights)."""
    from alignment.world.grammar_text import encode_with_grad

    if clips.frames.shape[1:] != (config.clips.frames, config.clips.size, config.clips.size, 3):
        raise ConfigError(f"pretrain: clips of shape {clips.frames.shape[1:]} do not match the config's clip settings")
    torch.set_num_threads(config.threads)
    wall0, cpu0 = time.monotonic(), time.process_time()

    def over_budget() -> bool:
        return config.max_cpu_seconds is not None and time.process_time() - cpu0 > config.max_cpu_seconds

    extra: dict[str, Any] = {}
    latents: torch.Tensor | None = None
    codec: LatentCodec | None = None
    if config.codec == "frame_autoencoder":
        codec, latents, extra["autoencoder"] = _autoencoder_stage(config, clips, over_budget)
    tokenizer, text_encoder, transformer, codec = build_parts(config, codec)
    cells = subject_cells(clips.frames, codec) if config.subject_weight > 0 else None
    modules = torch.nn.ModuleDict({"transformer": transformer, "text_encoder": text_encoder}).train()
    ema = copy.deepcopy(modules).eval().requires_grad_(False)
    params = [p for p in modules.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in transformer.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    running = 0.0
    step = 0
    for step in range(1, config.steps + 1):
        _wait_while_paused(config.pause_file)
        idx = np.sort(rng.choice(len(clips), size=config.batch_size, replace=False))
        x0 = latents[idx] if latents is not None else codec.encode(clips_to_video(clips.frames[idx]))
        drop = rng.random(config.batch_size) < config.prompt_dropout
        prompts = ["" if d else clips.prompts[i] for i, d in zip(idx, drop, strict=True)]
        embeds = encode_with_grad(tokenizer, text_encoder, prompts, config.max_sequence_length)
        noise = torch.randn(x0.shape, generator=gen)
        sigma = sample_sigma(config.batch_size, gen, config.sigma_sampling, config.logit_mean, config.logit_std,
                             config.train_shift)
        pred = transformer(hidden_states=add_noise(x0, noise, sigma), timestep=sigma_to_timestep(sigma),
                           encoder_hidden_states=embeds, return_dict=False)[0]
        loss = flow_loss(pred, velocity_target(x0, noise), None if cells is None else cells[idx], config.subject_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        _ema_update(ema, modules, min(config.ema_decay, (1 + step) / (10 + step)))
        running += loss.item()
        if step % config.log_every == 0:
            cpu = time.process_time() - cpu0
            history.append({"step": step, "loss": running / config.log_every, "cpu_s": cpu,
                            "wall_s": time.monotonic() - wall0})
            logger.info("pretrain step %d loss %.4f (cpu %.0f s)", step, running / config.log_every, cpu)
            running = 0.0
        if config.save_every and step % config.save_every == 0 and step < config.steps:
            out_dir = Path(out_dir)
            save_model_dir(config, tokenizer, ema["text_encoder"], ema["transformer"], codec,
                           out_dir.with_name(f"{out_dir.name}-step{step}"), extra={"steps": step})
        if over_budget():
            logger.warning("pretrain: CPU budget of %.0f s reached at step %d", config.max_cpu_seconds, step)
            break
    out = save_model_dir(config, tokenizer, ema["text_encoder"], ema["transformer"], codec, out_dir,
                         extra={**extra, "steps": step, "history": history, "wall_s": time.monotonic() - wall0,
                                "cpu_s": time.process_time() - cpu0, "parameters": n_params})
    return PretrainResult(out, step, history, time.monotonic() - wall0, time.process_time() - cpu0, n_params)


def subject_cells(frames: np.ndarray, codec: LatentCodec, batch: int = 256) -> torch.Tensor:
    """bool [N, 1, F, h, w]: latent cells holding a pixel that differs from its clip's median frame (> 0.1 on the
    [−1, 1] scale in any channel) — the moving subject."""
    _, f, h, w = codec.latent_shape(frames.shape[1], frames.shape[2], frames.shape[3])
    out = []
    for i in range(0, len(frames), batch):
        subject = subject_mask(frames_tensor(frames[i:i + batch]))  # [B, F, 1, H, W]
        pooled = torch.nn.functional.adaptive_max_pool2d(subject.flatten(0, 1).float(), (h, w))
        out.append(pooled.view(-1, f, 1, h, w).permute(0, 2, 1, 3, 4) > 0)
    return torch.cat(out)


def flow_loss(pred: torch.Tensor, target: torch.Tensor, cells: torch.Tensor | None, weight: float) -> torch.Tensor:
    """The batch's mean squared velocity error; with `cells`, subject cells weigh 1 + `weight` and the weights of
    each sample are normalised to mean 1 (the loss scale stays that of the unweighted loss)."""
    if cells is None:
        return per_sample_mse(pred, target).mean()
    w = (1.0 + weight * cells.float()).expand_as(pred)
    w = w / w.flatten(1).mean(dim=1).view(-1, *[1] * (w.ndim - 1))
    return (w * (pred.float() - target.float()).pow(2)).mean()


def _autoencoder_stage(config: PretrainConfig, clips: ClipSet, over_budget: Any) -> tuple[LatentCodec, torch.Tensor,
                                                                                       dict[str, Any]]:
    """Train the frame autoencoder, then encode every clip once (the transformer's x₀ never changes)."""
    from alignment.frame_autoencoder import FrameAutoencoder, FrameAutoencoderCodec

    cpu0 = time.process_time()
    record: dict[str, Any] = {}
    if config.autoencoder_from:
        source = Path(config.autoencoder_from)
        try:
            spec = json.loads((source / "generator.json").read_text())["codec"]
            earlier = json.loads((source / PRETRAIN_META).read_text()).get("autoencoder", {})
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"pretrain: autoencoder_from {source} is not a pretrain-base model directory") from exc
        if spec.get("kind") != "frame_autoencoder":
            raise ConfigError(f"pretrain: autoencoder_from {source} has no frame autoencoder")
        model = FrameAutoencoder.from_pretrained(source / spec["path"])
        record = {"from": str(source), "trained_cpu_s": earlier.get("cpu_s"), "history": earlier.get("history", [])}
    else:
        model, record["history"] = train_frame_autoencoder(config.autoencoder, clips.frames, seed=config.seed,
                                                           stop=over_budget)
    codec = FrameAutoencoderCodec(model)
    latents = torch.cat([codec.encode(clips_to_video(clips.frames[i:i + 64])) for i in range(0, len(clips), 64)])
    cpu = time.process_time() - cpu0
    logger.info("pretrain: autoencoder ready and %d clips encoded (cpu %.0f s)", len(clips), cpu)
    return codec, latents, {**record, "cpu_s": cpu}


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_mul_(ema_params, decay)
    torch._foreach_add_(ema_params, [p.detach() for p in model.parameters()], alpha=1.0 - decay)


def save_model_dir(
    config: PretrainConfig,
    tokenizer: Any,
    text_encoder: torch.nn.Module,
    transformer: torch.nn.Module,
    codec: LatentCodec,
    out_dir: str | Path,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A WanPipeline directory + generator.json (codec, sequence length) + pretrain.json (recipe, figures)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

    from alignment.generator import GENERATOR_META

    out_dir = Path(out_dir)
    # WanPipeline needs a VAE component; the pixel-unshuffle codec never uses it, so a minimal one is stored
    vae = AutoencoderKLWan(base_dim=3, z_dim=4, dim_mult=[1, 1], num_res_blocks=1, temperal_downsample=[False])
    pipe = WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder.eval(), vae=vae.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=config.sampling_shift), transformer=transformer.eval(),
    )
    pipe.save_pretrained(out_dir)
    model = getattr(codec, "model", None)
    if model is not None:  # a frame autoencoder: its weights travel with the generator
        model.save_pretrained(out_dir / codec.path)
    meta = {"codec": codec.spec(), "max_sequence_length": config.max_sequence_length,
            "clip": {"num_frames": config.clips.frames, "height": config.clips.size, "width": config.clips.size,
                     "fps": config.clips.fps},
            # the prompt grammar it was trained on: its quality gate is judged on held-out prompts of the same
            "grammar": config.clips.grammar}
    (out_dir / GENERATOR_META).write_text(json.dumps(meta, indent=2))
    (out_dir / PRETRAIN_META).write_text(json.dumps({"config": config.to_dict(), **(extra or {})}, indent=2))
    return out_dir
