"""Training the reward model: one readable loop with ``accelerate`` (CPU, one GPU or several).

``train(data_csv, config, out_dir)`` reads a VideoAlign-layout CSV, splits it by prompt (unless a
validation file is given), trains the parts the config names with their own learning rates, evaluates on
the validation split after every epoch, and writes into ``out_dir``:
- ``checkpoints/step-N/`` after each epoch (and every ``save_every_steps``): resumable;
- ``model/``: the last checkpoint, the one to score with;
- ``metrics.jsonl``: one JSON object per optimizer step and per epoch.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from rewards.checkpoint import (
    Normalization,
    Position,
    load_network,
    load_training_state,
    save_checkpoint,
)
from rewards.clip_cache import ClipCache
from rewards.config import ConfigError, RewardConfig, TrainConfig
from rewards.data import (
    EpochShuffleSampler,
    PairBatch,
    PairCollator,
    PairDataset,
    SkippedPair,
    read_pairs,
    split_by_prompt,
)
from rewards.losses import bt_loss, btt_loss, regression_loss
from rewards.network import RewardNetwork
from rewards.pause import wait_while_paused
from rewards.predict import PairPredictions, normalization_from, predict_pairs

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]
NUM_TRAINED_DIMS = 3  # VQ, MQ, TA; the Overall label is only evaluated


def _loss_bt(r_a: torch.Tensor, r_b: torch.Tensor, batch: PairBatch, cfg: TrainConfig) -> torch.Tensor:
    return bt_loss(r_a - r_b, batch.labels[:, :NUM_TRAINED_DIMS], batch.valid[:, :NUM_TRAINED_DIMS])


def _loss_btt(r_a: torch.Tensor, r_b: torch.Tensor, batch: PairBatch, cfg: TrainConfig) -> torch.Tensor:
    return btt_loss(r_a - r_b, batch.labels[:, :NUM_TRAINED_DIMS], batch.valid[:, :NUM_TRAINED_DIMS], cfg.theta)


def _loss_regression(r_a: torch.Tensor, r_b: torch.Tensor, batch: PairBatch, cfg: TrainConfig) -> torch.Tensor:
    mos_a, mos_b = batch.mos[:, 0].to(r_a.dtype), batch.mos[:, 1].to(r_a.dtype)
    present = ~(mos_a.isnan() | mos_b.isnan())
    return regression_loss(r_a, r_b, mos_a.nan_to_num(), mos_b.nan_to_num(), present, cfg.mos_center)


LOSS_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor, PairBatch, TrainConfig], torch.Tensor]] = {
    "bt": _loss_bt,
    "btt": _loss_btt,
    "regression": _loss_regression,
}


@dataclass
class TrainResult:
    output_dir: Path
    model_dir: Path
    global_step: int
    epochs: int
    val_report: dict[str, dict[str, Any]]
    normalization: Normalization
    skipped_pairs: int
    skipped_files: list[str] = field(default_factory=list)
    first_loss: float = float("nan")
    last_loss: float = float("nan")


def _learning_rates(cfg: TrainConfig) -> dict[str, float]:
    return {"head": cfg.lr_head, "embeddings": cfg.lr_embeddings, "lora": cfg.lr_lora,
            "vision": cfg.lr_vision, "merger": cfg.lr_merger}


def _build_optimizer(groups: dict[str, list[torch.nn.Parameter]], cfg: TrainConfig) -> torch.optim.AdamW:
    lrs = _learning_rates(cfg)
    # No weight decay on the embedding table: its frozen rows would decay although their gradient is zero.
    return torch.optim.AdamW([
        {"params": params, "lr": lrs[part], "weight_decay": 0.0 if part == "embeddings" else cfg.weight_decay,
         "name": part}
        for part, params in groups.items()
    ])


def _records(data_csv: Path, media_dir: Path | None, val_csv: Path | None, cfg: TrainConfig):
    records = read_pairs(data_csv, media_dir)
    if val_csv is not None:
        return records, read_pairs(val_csv, media_dir)
    train_records, val_records = split_by_prompt(records, cfg.val_fraction, cfg.seed)
    if not train_records:
        raise ConfigError(f"{data_csv}: no training pairs left after holding out validation prompts")
    return train_records, val_records


class _SkipLog:
    """Counts skipped pairs once each and logs each bad file once, naming it."""

    def __init__(self) -> None:
        self.pairs: set[int] = set()
        self.files: dict[str, str] = {}

    def add(self, skipped: list[SkippedPair], split: str) -> None:
        for s in skipped:
            self.pairs.add(hash((split, s.index)))
            if str(s.path) not in self.files:
                self.files[str(s.path)] = s.reason
                logger.warning("skipping a %s pair: %s", split, s.reason)


def train(
    data_csv: str | Path,
    config: RewardConfig,
    out_dir: str | Path,
    *,
    media_dir: str | Path | None = None,
    val_csv: str | Path | None = None,
    cache_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    progress: ProgressCallback | None = None,
    max_steps: int | None = None,
) -> TrainResult:
    """Train a reward model; ``max_steps`` stops early (the run can be resumed from its checkpoint)."""
    cfg = config.train
    if not config.model.base:
        raise ConfigError("model.base must name a base-model directory (e.g. a local Qwen2-VL-2B-Instruct)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(mixed_precision=cfg.precision, gradient_accumulation_steps=cfg.grad_accum,
                              cpu=not torch.cuda.is_available())
    set_seed(cfg.seed)

    train_records, val_records = _records(Path(data_csv), Path(media_dir) if media_dir else None,
                                          Path(val_csv) if val_csv else None, cfg)
    position = Position(epoch=0, global_step=0)
    if resume_from is not None:
        resume_from = Path(resume_from)
        network, _, normalization, position = load_network(resume_from)
    else:
        network = RewardNetwork.from_base(config.model.base, config.model)
        if cfg.train_lora:
            network.add_lora(cfg)
        normalization = Normalization.identity()
    groups = network.parameter_groups(cfg)
    optimizer = _build_optimizer(groups, cfg)

    cache = ClipCache(cache_dir if cache_dir is not None else out_dir / "clip_cache", config.video)
    collator = PairCollator(network.tokenizer, network.reward_token_ids, config.model, network.merge_size)
    sampler = EpochShuffleSampler(len(train_records), cfg.seed)
    # Persistent workers: re-forking them every epoch costs a start-up wait and loses their per-process memo of
    # file hashes (the clip cache's keys), so every later epoch would hash every video again.
    loader_options = {"collate_fn": collator, "num_workers": cfg.num_workers,
                      "persistent_workers": cfg.num_workers > 0}
    train_loader = DataLoader(PairDataset(train_records, cache), batch_size=cfg.batch_size, sampler=sampler,
                              **loader_options)
    val_loader = DataLoader(PairDataset(val_records, cache), batch_size=cfg.batch_size, **loader_options)

    steps_per_epoch = math.ceil(len(train_loader) / cfg.grad_accum)
    total_steps = steps_per_epoch * cfg.epochs
    warmup = max(1, round(cfg.warmup_ratio * total_steps))
    # Linear warm-up, then constant (the public VideoReward recipe).
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    if resume_from is not None:
        state = load_training_state(resume_from)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        logger.info("resuming from %s at epoch %d, step %d", resume_from, position.epoch, position.global_step)

    network, optimizer, train_loader, val_loader = accelerator.prepare(network, optimizer, train_loader, val_loader)
    raw_network: RewardNetwork = accelerator.unwrap_model(network)
    loss_fn = LOSS_FUNCTIONS[cfg.loss]
    metrics_file = (out_dir / "metrics.jsonl").open("a", encoding="utf-8")
    skips = _SkipLog()
    global_step = position.global_step
    losses: list[float] = []
    report: dict[str, dict[str, Any]] = {}
    last_ckpt: Path | None = None

    def log(record: dict[str, Any]) -> None:
        if accelerator.is_main_process:
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
        if progress is not None:
            progress(record)

    def checkpoint(epoch_done: int, batches_done: int) -> Path:
        directory = out_dir / "checkpoints" / f"step-{global_step}"
        if accelerator.is_main_process:
            save_checkpoint(directory, raw_network, config, normalization,
                            Position(epoch=epoch_done, global_step=global_step, batches_done=batches_done),
                            optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer, scheduler)
        accelerator.wait_for_everyone()
        return directory

    bar = tqdm(total=total_steps, initial=global_step, disable=not accelerator.is_local_main_process,
               desc="reward training")
    stopped = False
    epochs_done = position.epoch
    try:
        for epoch in range(position.epoch, cfg.epochs):
            torch.manual_seed(cfg.seed + epoch)  # dropout noise per epoch, reproducible after a resume
            skip = position.batches_done if epoch == position.epoch else 0
            batches = accelerator.skip_first_batches(train_loader, skip) if skip else train_loader
            # The prepared loader re-sets its sampler's epoch from its own counter on every pass; set that
            # counter, so the shuffle depends on the real epoch also after a resume.
            batches.set_epoch(epoch)
            network.train()
            wait_s = busy_s = 0.0
            pairs = 0
            epoch_losses: list[float] = []
            tick = time.perf_counter()
            for batch_index, batch in enumerate(batches, start=skip):
                wait_while_paused()  # before the clock: a pause is neither data wait nor compute
                got = time.perf_counter()
                skips.add(batch.skipped, "training")
                if batch.inputs is not None:
                    with accelerator.accumulate(network):
                        rewards = network(batch.inputs)  # (2B, 3): A videos, then B videos
                        loss = loss_fn(rewards[: batch.size], rewards[batch.size:], batch, cfg)
                        accelerator.backward(loss)
                        if accelerator.sync_gradients:
                            accelerator.clip_grad_norm_(network.parameters(), cfg.max_grad_norm)
                        optimizer.step()
                        optimizer.zero_grad()
                    epoch_losses.append(loss.item())
                    pairs += batch.size
                done = time.perf_counter()
                wait_s += got - tick
                busy_s += done - got
                tick = done
                if batch.inputs is None or not accelerator.sync_gradients:
                    continue
                scheduler.step()
                global_step += 1
                bar.update(1)
                recent = epoch_losses[-cfg.grad_accum:]
                losses.append(sum(recent) / len(recent))
                log({"event": "step", "epoch": epoch, "step": global_step, "total_steps": total_steps,
                     "loss": losses[-1], "lr": {g["name"]: g["lr"] for g in optimizer.param_groups}})
                if cfg.save_every_steps and global_step % cfg.save_every_steps == 0:
                    last_ckpt = checkpoint(epoch, batch_index + 1)
                if max_steps is not None and global_step >= max_steps:
                    stopped = True
                    break
            if stopped:
                if last_ckpt is None or not last_ckpt.name.endswith(f"-{global_step}"):
                    last_ckpt = checkpoint(epoch, batch_index + 1)
                break

            predictions = predict_pairs(raw_network, val_loader, accelerator.device)
            skips.add(predictions.skipped, "validation")
            normalization = normalization_from(predictions)
            report = _report_dict(predictions, normalization)
            total = wait_s + busy_s
            log({"event": "epoch", "epoch": epoch, "step": global_step, "train_loss": _mean(epoch_losses),
                 "val": report, "normalization": asdict(normalization),
                 "data_wait_share": wait_s / total if total else 0.0,
                 "pairs_per_second": pairs / total if total else 0.0,
                 "skipped_pairs": len(skips.pairs),
                 # Worker processes keep their own counters, so these are only known without workers.
                 **({"cache_hits": cache.hits, "cache_misses": cache.misses} if cfg.num_workers == 0 else {})})
            epochs_done = epoch + 1
            last_ckpt = checkpoint(epochs_done, 0)
    finally:
        bar.close()
        metrics_file.close()

    model_dir = out_dir / "model"
    if accelerator.is_main_process and last_ckpt is not None:
        if model_dir.exists():
            shutil.rmtree(model_dir)
        shutil.copytree(last_ckpt, model_dir, ignore=shutil.ignore_patterns("training_state.pt"))
    return TrainResult(
        output_dir=out_dir, model_dir=model_dir, global_step=global_step,
        epochs=epochs_done, val_report=report, normalization=normalization,
        skipped_pairs=len(skips.pairs), skipped_files=sorted(skips.files),
        first_loss=losses[0] if losses else float("nan"), last_loss=losses[-1] if losses else float("nan"),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _report_dict(predictions: PairPredictions, normalization: Normalization) -> dict[str, dict[str, Any]]:
    if not predictions.indices:
        return {}
    return {k: v.to_dict() for k, v in predictions.report(normalization).items()}


__all__ = ["LOSS_FUNCTIONS", "ProgressCallback", "TrainResult", "train"]
