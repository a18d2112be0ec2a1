"""The learning recipe on the synthetic world: from the pretrained tiny base, train a reward model on the
world's training judgements and measure it on the held-out test pairs against the oracle ceiling.

Used by ``benchmarks/rewards_learning.py`` (the learning bar) and by ``rewards.report`` (the ablations), so
both run exactly the same training code as ``python -m rewards train``.
"""
from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from rewards.clip_cache import ClipCache
from rewards.config import DIMENSIONS, ModelConfig, RewardConfig, TrainConfig
from rewards.data import PairCollator, PairDataset, read_pairs
from rewards.metrics import tie_separation_auc
from rewards.predict import predict_pairs
from rewards.pretrain_base import base_checklist, base_video_config
from rewards.scorer import RewardScorer
from rewards.synthetic_world import SplitTruth, compare_to_oracle, split_truth
from rewards.train import train

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
MARGINS_FILE = "test_margins.npz"


def reward_recipe(base_dir: str | Path, *, loss: str = "btt", token_mode: str = "separate", epochs: int = 2,
                  seed: int = 0, train_vision: bool = False, token_init: str = "previous") -> RewardConfig:
    """The tiny-model recipe: LoRA on the language model, the merger and the reward tokens and head train;
    by default the pretrained vision tower stays frozen (it halves the step time). Learning rates are those
    that learnt at hidden size ~100 (REFERENCE §7: 1e-3); with ``train_vision`` the tower and merger train
    at 1e-3 too. ``token_init`` "previous": each reward token starts as the ":" before it, where the
    captioner base predicts that dimension's flaw total (``rewards.captions``). A base whose readout was
    trained with a checklist template gets that template (``base_checklist``)."""
    shared = token_mode == "shared"
    return RewardConfig(
        video=base_video_config(base_dir),
        model=ModelConfig(base=str(base_dir), token_mode=token_mode, vq_mq_see_prompt=shared,
                          reward_token_init=token_init, checklist=() if shared else base_checklist(base_dir)),
        train=TrainConfig(loss=loss, lora_r=16, lora_alpha=32, lora_dropout=0.0, train_vision=train_vision,
                          train_merger=True, train_lora=True, lr_head=3e-3, lr_embeddings=1e-3, lr_lora=1e-3,
                          lr_merger=1e-3 if train_vision else 3e-4, lr_vision=1e-3 if train_vision else 1e-4,
                          weight_decay=0.0,
                          batch_size=8, grad_accum=1,
                          epochs=epochs, warmup_ratio=0.05, seed=seed),
    )


def subset_csv(source: Path, out: Path, fraction: float, seed: int = 0) -> Path:
    """The first ``fraction`` of a fixed random order of the rows (so smaller subsets nest in larger ones)."""
    with source.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns, rows = reader.fieldnames, list(reader)
    order = np.random.default_rng(seed).permutation(len(rows))
    keep = sorted(order[: max(1, round(fraction * len(rows)))].tolist())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows[i] for i in keep)
    return out


def held_out_margins(model_dir: Path, data_csv: Path, cache_dir: Path, batch_size: int = 8) -> dict[str, np.ndarray]:
    """Normalised per-dimension margins of every row of ``data_csv``, in row order (no pair may be skipped)."""
    scorer = RewardScorer.from_pretrained(model_dir, device="cpu", cache_dir=cache_dir)
    network = scorer.network
    records = read_pairs(data_csv)
    collator = PairCollator(network.tokenizer, network.reward_token_ids, scorer.config.model, network.merge_size)
    loader = DataLoader(PairDataset(records, ClipCache(cache_dir, scorer.config.video)), batch_size=batch_size,
                        collate_fn=collator)
    predictions = predict_pairs(network, loader, scorer.device)
    if predictions.skipped:
        raise ValueError(f"{len(predictions.skipped)} test pair(s) could not be read, e.g. {predictions.skipped[0].reason}")
    margins = predictions.margins(scorer.normalization)
    margins["Overall"] = sum(margins[d] for d in DIMENSIONS)
    assert predictions.indices == list(range(len(records))), "test pairs came back out of order"
    return margins


@dataclass
class RunFigures:
    """One trained model measured on the test split."""

    name: str
    train_pairs: int
    comparison: dict[str, dict[str, Any]]
    tie_auc: dict[str, float]
    train_wall_s: float
    train_cpu_s: float
    steps: int
    margins: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "train_pairs": self.train_pairs, "steps": self.steps,
                "train_wall_s": round(self.train_wall_s, 1), "train_cpu_s": round(self.train_cpu_s, 1),
                "test": self.comparison, "tie_separation_auc": self.tie_auc}


def train_and_test(name: str, world: Path, config: RewardConfig, out_dir: Path, *, train_csv: Path,
                   cache_dir: Path, truth: SplitTruth | None = None, n_boot: int = 1000,
                   max_steps: int | None = None) -> RunFigures:
    """Train on ``train_csv`` (validating on the world's val split), then measure on its test split.

    A finished run is not repeated: when ``out_dir`` holds a run of the same config on the same number of
    pairs (``run.json``), its model and test margins are reused, so an interrupted report resumes and the
    report can share a run with the learning benchmark.
    """
    truth = truth or split_truth(world, "test")
    n_pairs = len(read_pairs(train_csv))
    done = _finished_run(out_dir, config, n_pairs)
    if done is None:
        start, cpu = time.perf_counter(), time.process_time()
        # The CSV may be a subset written elsewhere: its video paths stay relative to the world folder.
        result = train(train_csv, config, out_dir, media_dir=world, val_csv=world / "val.csv", cache_dir=cache_dir,
                       max_steps=max_steps)
        wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        margins = held_out_margins(result.model_dir, world / "test.csv", cache_dir)
        np.savez(out_dir / MARGINS_FILE, **margins)
        done = {"config": config.to_dict(), "train_pairs": n_pairs, "steps": result.global_step,
                "train_wall_s": wall, "train_cpu_s": cpu_s}
        (out_dir / RUN_FILE).write_text(json.dumps(done, indent=2), encoding="utf-8")
    else:
        logger.info("%s: reusing the finished run in %s", name, out_dir)
    with np.load(out_dir / MARGINS_FILE) as data:
        margins = {k: data[k] for k in data.files}
    comparison = compare_to_oracle(margins, truth, n_boot=n_boot, dimensions=(*DIMENSIONS, "Overall"))
    aucs = {d: tie_separation_auc(margins[d], truth.labels[d]) for d in (*DIMENSIONS, "Overall")}
    logger.info("%s: trained on %d pairs in %.0f s wall / %.0f s CPU; test without ties %s", name, n_pairs,
                done["train_wall_s"], done["train_cpu_s"],
                {d: round(v["model_without_ties"], 3) for d, v in comparison.items()})
    return RunFigures(name=name, train_pairs=n_pairs, comparison=comparison, tie_auc=aucs,
                      train_wall_s=done["train_wall_s"], train_cpu_s=done["train_cpu_s"], steps=done["steps"],
                      margins=margins)


def _finished_run(out_dir: Path, config: RewardConfig, n_pairs: int) -> dict[str, Any] | None:
    path = out_dir / RUN_FILE
    if not (path.is_file() and (out_dir / MARGINS_FILE).is_file()):
        return None
    done = json.loads(path.read_text(encoding="utf-8"))
    same = done.get("config") == json.loads(json.dumps(config.to_dict())) and done.get("train_pairs") == n_pairs
    return done if same else None


def with_epochs(config: RewardConfig, epochs: int) -> RewardConfig:
    return replace(config, train=replace(config.train, epochs=epochs))
