"""One training loop for Flow-DPO, Flow-RWR, SFT and Diffusion-DPO; the method picks the step function (a loss),
nothing else. The flow-matching methods train flow-matching families (Wan, LTX-Video), Diffusion-DPO trains
ε/v-prediction families (CogVideoX); `train` refuses a mismatch (`alignment.families`).

Every step is a pure function of (LoRA weights, optimiser state, step number): the batch order comes from a
permutation per epoch and the noise from a generator seeded by the micro-step, both derived from the config
seed, so a run resumed from a checkpoint continues exactly as an uninterrupted one.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from alignment.config import METHOD_OBJECTIVES, LoraSettings, TrainConfig
from alignment.dataset import PairData, SampleData
from alignment.families import DiffusionSchedule, pipeline_class_for, unwrap
from alignment.flow_matching import (
    add_noise,
    per_sample_mse,
    sample_sigma,
    sigma_to_timestep,
    velocity_target,
)
from alignment.generator import Generator
from alignment.losses import (
    BETA_SCHEDULES,
    LossOutput,
    diffusion_add_noise,
    diffusion_dpo_loss,
    diffusion_target,
    dpo_loss_from_errors,
    flow_dpo_loss,
    flow_rwr_loss,
    frame_error,
    sft_loss,
    split_pair,
)

logger = logging.getLogger(__name__)

ADAPTER_NAME = "default"
CHECKPOINTS = "checkpoints"
Progress = Callable[[int, int, dict[str, float]], None]


@dataclass
class NoisyBatch:
    inputs: torch.Tensor  # x_σ [B, C, F, H, W]
    target: torch.Tensor  # ε − x₀
    timestep: torch.Tensor  # 1000·σ [B]
    sigma: torch.Tensor  # [B]


@dataclass
class TrainResult:
    out_dir: Path
    lora_dir: Path  # the LoRA at the last step
    steps: int  # optimiser steps taken in total (fewer than max_steps after early stopping)
    history: list[dict[str, float]] = field(default_factory=list)
    best_lora_dir: Path | None = None  # the LoRA of the best held-out implicit accuracy
    best_heldout_accuracy: float | None = None


def noisy_batch(x0: torch.Tensor, generator: torch.Generator, config: TrainConfig) -> NoisyBatch:
    """Noise clean latents at σ drawn by the configured timestep sampling."""
    noise = torch.randn(x0.shape, generator=generator).to(x0)
    sigma = _draw_sigma(x0.shape[0], generator, config).to(x0)
    return NoisyBatch(add_noise(x0, noise, sigma), velocity_target(x0, noise), sigma_to_timestep(sigma), sigma)


def noisy_pair_batch(
    latents_w: torch.Tensor, latents_l: torch.Tensor, generator: torch.Generator, config: TrainConfig
) -> NoisyBatch:
    """[winners; losers] noised with ONE ε and ONE σ per pair, shared by its winner and loser (Flow-DPO)."""
    noise = torch.randn(latents_w.shape, generator=generator).to(latents_w)
    sigma = _draw_sigma(latents_w.shape[0], generator, config).to(latents_w)
    x0, noise2, sigma2 = torch.cat([latents_w, latents_l]), torch.cat([noise, noise]), torch.cat([sigma, sigma])
    return NoisyBatch(add_noise(x0, noise2, sigma2), velocity_target(x0, noise2), sigma_to_timestep(sigma2), sigma)


def diffusion_noisy_pair_batch(
    latents_w: torch.Tensor, latents_l: torch.Tensor, generator: torch.Generator, schedule: DiffusionSchedule
) -> NoisyBatch:
    """[winners; losers] DDPM-noised with ONE ε and ONE integer timestep t ~ U{0..T−1} per pair (Diffusion-DPO).

    x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε with the model scheduler's ᾱ; the target is ε or v by the model's prediction
    type; `sigma` holds √(1 − ᾱ_t), the noise share, per pair (read only by a β schedule, and Diffusion-DPO's
    is constant).
    """
    noise = torch.randn(latents_w.shape, generator=generator).to(latents_w)
    t = torch.randint(0, len(schedule.alphas_cumprod), (latents_w.shape[0],), generator=generator)
    alpha_bar = schedule.alphas_cumprod[t].to(latents_w)
    x0, noise2, a2 = torch.cat([latents_w, latents_l]), torch.cat([noise, noise]), torch.cat([alpha_bar, alpha_bar])
    target = diffusion_target(x0, noise2, a2, schedule.prediction_type)
    return NoisyBatch(diffusion_add_noise(x0, noise2, a2), target, torch.cat([t, t]).to(x0.device), (1 - alpha_bar).sqrt())


def _diffusion_schedule(transformer: torch.nn.Module) -> DiffusionSchedule:
    schedule = getattr(transformer, "diffusion_schedule", None)
    if schedule is None:
        raise TypeError(
            f"diffusion-dpo needs an epsilon/v-prediction model; {type(unwrap(transformer)).__name__} is not one"
        )
    return schedule


def noisy_pairs(
    transformer: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator, config: TrainConfig
) -> NoisyBatch:
    """The method's noising of a pair batch: flow matching, or DDPM for Diffusion-DPO."""
    if config.method == "diffusion-dpo":
        return diffusion_noisy_pair_batch(batch["latents_w"], batch["latents_l"], generator,
                                          _diffusion_schedule(transformer))
    return noisy_pair_batch(batch["latents_w"], batch["latents_l"], generator, config)


def _draw_sigma(batch: int, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
    return sample_sigma(
        batch, generator, config.timestep_sampling, config.logit_mean, config.logit_std, config.timestep_shift
    )


@contextlib.contextmanager
def adapter_disabled(transformer: torch.nn.Module) -> Iterator[None]:
    """The reference model: the same network with its LoRA switched off (B starts at zero, so = the start)."""
    transformer.disable_adapters()
    try:
        yield
    finally:
        transformer.enable_adapters()


def _predict(transformer: torch.nn.Module, batch: NoisyBatch, embeds: torch.Tensor) -> torch.Tensor:
    return transformer(
        hidden_states=batch.inputs, timestep=batch.timestep, encoder_hidden_states=embeds, return_dict=False
    )[0]


def flow_dpo_step(
    transformer: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator, config: TrainConfig
) -> LossOutput:
    noisy = noisy_pair_batch(batch["latents_w"], batch["latents_l"], generator, config)  # [2B, C, F, H, W]
    embeds = torch.cat([batch["embeds"], batch["embeds"]])
    model_pred = _predict(transformer, noisy, embeds)
    with torch.no_grad(), adapter_disabled(transformer):
        ref_pred = _predict(transformer, noisy, embeds)
    out = flow_dpo_loss(model_pred, ref_pred, noisy.target, noisy.sigma, config.beta, config.beta_schedule)
    if config.sft_weight:
        anchor = per_sample_mse(*(split_pair(t)[0] for t in (model_pred, noisy.target))).mean()
        out.loss = out.loss + config.sft_weight * anchor
        out.stats["sft_anchor"] = anchor.item()
    return out


def sft_step(
    transformer: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator, config: TrainConfig
) -> LossOutput:
    noisy = noisy_batch(batch["latents_w"], generator, config)  # winners only
    return sft_loss(_predict(transformer, noisy, batch["embeds"]), noisy.target)


def flow_rwr_step(
    transformer: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator, config: TrainConfig
) -> LossOutput:
    noisy = noisy_batch(batch["latents"], generator, config)
    pred = _predict(transformer, noisy, batch["embeds"])
    return flow_rwr_loss(pred, noisy.target, batch["rewards"], config.rwr_temperature)


def diffusion_dpo_step(
    transformer: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator, config: TrainConfig
) -> LossOutput:
    """Diffusion-DPO (HuViDPO's setting): Flow-DPO's form on the ε/v-prediction error, reference = adapter off."""
    noisy = noisy_pairs(transformer, batch, generator, config)  # [2B, C, F, H, W]
    embeds = torch.cat([batch["embeds"], batch["embeds"]])
    model_pred = _predict(transformer, noisy, embeds)
    with torch.no_grad(), adapter_disabled(transformer):
        ref_pred = _predict(transformer, noisy, embeds)
    return diffusion_dpo_loss(model_pred, ref_pred, noisy.target, config.beta, config.skip_first_frames)


StepFn = Callable[[torch.nn.Module, dict[str, torch.Tensor], torch.Generator, TrainConfig], LossOutput]
STEP_FUNCTIONS: dict[str, StepFn] = {
    "flow-dpo": flow_dpo_step, "sft": sft_step, "flow-rwr": flow_rwr_step, "diffusion-dpo": diffusion_dpo_step,
}
DATA_KIND: dict[str, type] = {"flow-dpo": PairData, "sft": PairData, "flow-rwr": SampleData, "diffusion-dpo": PairData}


@torch.no_grad()
def heldout_metrics(
    transformer: torch.nn.Module, data: PairData, config: TrainConfig, seed: int = 2024
) -> dict[str, float]:
    """Flow-DPO statistics of held-out pairs at a fixed draw of noise and σ, so evaluations are comparable.

    With `config.heldout_draws` > 1 each pair's errors are averaged over that many (ε, σ) draws before the
    statistics are taken: a Monte-Carlo estimate of the expected error, whose sign is the implicit preference
    (one draw at a random σ is a noisy vote).
    """
    generator = torch.Generator().manual_seed(seed)
    device = next(transformer.parameters()).device
    errors: list[torch.Tensor] = []  # per batch: [4, B] model w, model l, ref w, ref l (mean over draws)
    betas: list[torch.Tensor] = []
    for start in range(0, len(data), config.batch_size):
        idx = torch.arange(start, min(start + config.batch_size, len(data)))
        batch = {k: v.to(device) for k, v in data.batch(idx).items()}
        embeds = torch.cat([batch["embeds"], batch["embeds"]])
        total, beta_sum = None, None
        for _ in range(config.heldout_draws):
            noisy = noisy_pairs(transformer, batch, generator, config)
            skip = config.skip_first_frames  # Diffusion-DPO's conditioning frames; 0 otherwise
            model_err = frame_error(_predict(transformer, noisy, embeds), noisy.target, skip)
            with adapter_disabled(transformer):
                ref_err = frame_error(_predict(transformer, noisy, embeds), noisy.target, skip)
            errs = torch.stack([*split_pair(model_err), *split_pair(ref_err)])
            beta = BETA_SCHEDULES[config.beta_schedule](config.beta, noisy.sigma.to(errs))
            total = errs if total is None else total + errs
            beta_sum = beta if beta_sum is None else beta_sum + beta
        errors.append(total / config.heldout_draws)
        betas.append(beta_sum / config.heldout_draws)
    e, beta = torch.cat(errors, dim=1), torch.cat(betas)
    stats = dpo_loss_from_errors(e[0], e[1], e[2], e[3], beta).stats
    return {f"heldout_{k}": stats[k] for k in ("loss", "implicit_accuracy", "reward_margin")}


def batch_indices(micro_step: int, batch_size: int, n_items: int, seed: int) -> torch.Tensor:
    """Items of a micro-batch: consecutive slices of a fresh permutation per epoch."""
    start = micro_step * batch_size
    positions = range(start, start + batch_size)
    out, perms = [], {}
    for pos in positions:
        epoch, offset = divmod(pos, n_items)
        if epoch not in perms:
            perms[epoch] = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        out.append(perms[epoch][offset])
    return torch.stack(out)


def add_lora(transformer: torch.nn.Module, config: TrainConfig) -> list[torch.nn.Parameter]:
    """Freeze the generator and attach a zero-initialised LoRA; returns the trainable parameters."""
    transformer.requires_grad_(False)
    lora = config.lora
    # LoRA's A matrices start random: seed them from the config so that a run is reproducible
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        _attach(transformer, lora)
    params = [p for p in transformer.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"LoRA targets {lora.targets} matched no module of the transformer")
    return params


def _attach(transformer: torch.nn.Module, lora: LoraSettings) -> None:
    unwrap(transformer).add_adapter(
        LoraConfig(
            r=lora.rank,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.targets),
            init_lora_weights=True,
        ),
        adapter_name=ADAPTER_NAME,
    )


def save_lora(transformer: torch.nn.Module, directory: Path) -> Path:
    """Write the adapter in diffusers' format: the family's `<Pipeline>.load_lora_weights(directory)` reads it."""
    directory.mkdir(parents=True, exist_ok=True)
    model = unwrap(transformer)
    pipeline_class_for(model).save_lora_weights(
        directory,
        transformer_lora_layers=get_peft_model_state_dict(model, adapter_name=ADAPTER_NAME),
        transformer_lora_adapter_metadata=model.peft_config[ADAPTER_NAME].to_dict(),
    )
    return directory


def _write_json(path: Path, value: Any) -> None:
    """Write-then-rename: a worker killed mid-write leaves the old file or none, never half a file to resume from."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(value, indent=2))
    os.replace(partial, path)


def save_checkpoint(
    transformer: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int, config: TrainConfig, out_dir: Path
) -> Path:
    ckpt = out_dir / CHECKPOINTS / f"step-{step:07d}"
    save_lora(transformer, ckpt)
    save_file(get_peft_model_state_dict(unwrap(transformer), adapter_name=ADAPTER_NAME),
              ckpt / "adapter_state.safetensors")
    torch.save(optimizer.state_dict(), ckpt / "optimizer.pt")
    # Written last and atomically: its presence marks a complete checkpoint, even when the process is killed.
    _write_json(ckpt / "trainer_state.json", {"step": step, "config": config.to_dict()})
    return ckpt


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = sorted((out_dir / CHECKPOINTS).glob("step-*/trainer_state.json"))
    return found[-1].parent if found else None


def _resume(transformer: torch.nn.Module, optimizer: torch.optim.Optimizer, ckpt: Path, config: TrainConfig) -> int:
    state = json.loads((ckpt / "trainer_state.json").read_text())
    saved = {k: v for k, v in state["config"].items() if k not in ("max_steps", "checkpoint_every", "progress_bar")}
    current = {k: v for k, v in config.to_dict().items() if k in saved}
    if json.loads(json.dumps(current)) != saved:
        changed = sorted(k for k in saved if json.loads(json.dumps(current.get(k))) != saved[k])
        raise ValueError(f"{ckpt}: cannot resume with a changed config ({', '.join(changed)})")
    set_peft_model_state_dict(
        unwrap(transformer), load_file(ckpt / "adapter_state.safetensors"), adapter_name=ADAPTER_NAME
    )
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    logger.info("resumed from %s at step %d", ckpt, state["step"])
    return int(state["step"])


def check_method_fits(method: str, generator: Generator) -> None:
    """Raise ValueError when `method` does not train the generator's family (flow-matching vs diffusion)."""
    objective = METHOD_OBJECTIVES[method]
    if generator.family.objective != objective:
        fitting = ", ".join(m for m, o in METHOD_OBJECTIVES.items() if o == generator.family.objective)
        raise ValueError(
            f"{method} trains {objective} models; {generator.family.name} is a {generator.family.objective} "
            f"model (methods for it: {fitting})"
        )


def train(
    config: TrainConfig,
    data: PairData | SampleData,
    generator: Generator,
    out_dir: str | Path,
    resume: bool = False,
    progress: Progress | None = None,
    heldout: PairData | None = None,
) -> TrainResult:
    """Train a LoRA on `generator.transformer` with the configured method; the LoRA lands in `out_dir/lora`."""
    if not isinstance(data, DATA_KIND[config.method]):
        raise TypeError(f"{config.method} trains on {DATA_KIND[config.method].__name__}, got {type(data).__name__}")
    check_method_fits(config.method, generator)
    if config.eval_every and heldout is None:
        raise ValueError("eval_every > 0 needs held-out pairs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(mixed_precision=config.precision, gradient_accumulation_steps=config.gradient_accumulation)
    transformer = generator.transformer
    params = add_lora(transformer, config)
    if config.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    start = 0
    if resume:
        ckpt = latest_checkpoint(out_dir)
        if ckpt is None:
            raise FileNotFoundError(f"--resume: no checkpoint under {out_dir / CHECKPOINTS}")
        start = _resume(transformer, optimizer, ckpt, config)
    transformer.train()
    model, optimizer = accelerator.prepare(transformer, optimizer)
    step_fn = STEP_FUNCTIONS[config.method]
    device = accelerator.device
    history: list[dict[str, float]] = []
    stopper = _EarlyStopping(config.early_stopping_patience, out_dir / "best_lora")
    if resume:
        history = [h for h in _read_history(out_dir) if h["step"] <= start]
        stopper.restore(history)
    bar = tqdm(total=config.max_steps, initial=start, disable=not config.progress_bar, desc=config.method)
    step = start
    while step < config.max_steps and not stopper.stop:
        micro_stats = []
        for micro in range(config.gradient_accumulation):
            micro_step = step * config.gradient_accumulation + micro
            idx = batch_indices(micro_step, config.batch_size, len(data), config.seed)
            batch = {k: v.to(device) for k, v in data.batch(idx).items()}
            noise_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + micro_step)
            with accelerator.accumulate(model), accelerator.autocast():
                out = step_fn(accelerator.unwrap_model(model), batch, noise_gen, config)
                accelerator.backward(out.loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            micro_stats.append(out.stats)
        step += 1
        stats = {k: sum(s[k] for s in micro_stats) / len(micro_stats) for k in micro_stats[0]}
        if config.eval_every and step % config.eval_every == 0:
            transformer.eval()
            stats.update(heldout_metrics(transformer, heldout, config))
            transformer.train()
            stopper.update(stats["heldout_implicit_accuracy"], transformer, step)
        history.append({"step": step, **stats})
        bar.update(1)
        bar.set_postfix(loss=f"{stats['loss']:.4f}")
        if progress is not None:
            progress(step, config.max_steps, stats)
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            save_checkpoint(transformer, optimizer, step, config, out_dir)
            _write_json(out_dir / "history.json", history)
    bar.close()
    transformer.eval()
    if not (out_dir / CHECKPOINTS / f"step-{step:07d}").exists():
        save_checkpoint(transformer, optimizer, step, config, out_dir)
    lora_dir = save_lora(transformer, out_dir / "lora")
    _write_json(out_dir / "history.json", history)
    return TrainResult(
        out_dir=out_dir,
        lora_dir=lora_dir,
        steps=step,
        history=history,
        best_lora_dir=stopper.best_dir if stopper.best is not None else None,
        best_heldout_accuracy=stopper.best,
    )


def _read_history(out_dir: Path) -> list[dict[str, float]]:
    path = out_dir / "history.json"
    return json.loads(path.read_text()) if path.exists() else []


class _EarlyStopping:
    """Keeps the LoRA of the best held-out implicit accuracy; stops after `patience` evaluations without gain."""

    def __init__(self, patience: int, best_dir: Path) -> None:
        self.patience, self.best_dir = patience, best_dir
        self.best: float | None = None
        self.best_step: int | None = None
        self.since_best = 0
        self.stop = False

    def restore(self, history: list[dict[str, float]]) -> None:
        """On resume: replay the held-out evaluations of the history up to the checkpoint.

        The best accuracy alone is not enough: the count of evaluations since the best must carry over too, or
        a resumed run would wait a full `patience` again and stop later than an uninterrupted one.
        """
        for entry in history:
            if "heldout_implicit_accuracy" in entry:
                self._record(entry["heldout_implicit_accuracy"], int(entry["step"]))
        saved = self.best_dir / "best.json"
        saved_step = json.loads(saved.read_text())["step"] if saved.is_file() else None
        if saved_step != self.best_step:
            # The best LoRA on disk is not the replayed best: a crashed run saved a new best after its last
            # checkpoint (overwriting the replayed one), or died while saving it. Its step is gone from the history
            # the resumed run keeps, so drop it and let the next evaluation set a best whose LoRA is on disk,
            # rather than report one step's accuracy with another step's weights.
            logger.warning("resume: best LoRA on disk (step %s) is not the replayed best (step %s); dropped",
                           saved_step, self.best_step)
            shutil.rmtree(self.best_dir, ignore_errors=True)
            self.best = self.best_step = None
            self.since_best = 0

    def _record(self, accuracy: float, step: int) -> bool:
        """Count one evaluation; True when it is a new best."""
        if self.best is None or accuracy > self.best:
            self.best, self.best_step, self.since_best = accuracy, step, 0
            return True
        self.since_best += 1
        if self.patience and self.since_best >= self.patience:
            logger.info("early stop at step %d: held-out implicit accuracy %.3f at best", step, self.best)
            self.stop = True
        return False

    def update(self, accuracy: float, transformer: torch.nn.Module, step: int) -> None:
        if self._record(accuracy, step):
            save_lora(transformer, self.best_dir)
            _write_json(self.best_dir / "best.json", {"step": step, "heldout_implicit_accuracy": accuracy})


def describe(result: TrainResult) -> dict[str, Any]:
    last = result.history[-1] if result.history else {}
    best = {"best_lora_dir": str(result.best_lora_dir), "best_heldout_accuracy": result.best_heldout_accuracy}
    return {"out_dir": str(result.out_dir), "lora_dir": str(result.lora_dir), "steps": result.steps, **last,
            **(best if result.best_lora_dir else {})}
