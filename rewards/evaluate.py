"""Evaluating a trained reward model on a preference file: accuracies with CIs, per-pair margins, plots.

Writes into ``out_dir``: ``evaluation.json`` (per dimension and Overall: accuracy with ties and its ε,
accuracy without ties, 95% bootstrap intervals, the tie-separation AUC of |Δr|), ``margins.csv`` (one row
per pair) and ``reliability.png`` / ``margin_distribution.png``.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from rewards.clip_cache import ClipCache
from rewards.config import DIMENSIONS
from rewards.data import LABEL_COLUMNS, PairCollator, PairDataset, read_pairs
from rewards.losses import decided_win_probability
from rewards.metrics import bootstrap_ci, tie_separation_auc
from rewards.plots import margin_distribution_plot, reliability_plot
from rewards.predict import predict_pairs
from rewards.scorer import RewardScorer


@dataclass
class EvaluationResult:
    report: dict[str, dict[str, Any]]
    n_pairs: int
    skipped_pairs: int
    skipped_files: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def evaluate(
    model_dir: str | Path,
    data_csv: str | Path,
    out_dir: str | Path,
    *,
    media_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int = 4,
    n_boot: int = 1000,
) -> EvaluationResult:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = RewardScorer.from_pretrained(model_dir, cache_dir=cache_dir)
    network = scorer.network
    records = read_pairs(data_csv, media_dir)
    collator = PairCollator(network.tokenizer, network.reward_token_ids, scorer.config.model, network.merge_size)
    loader = DataLoader(PairDataset(records, ClipCache(cache_dir, scorer.config.video)), batch_size=batch_size,
                        collate_fn=collator)
    predictions = predict_pairs(network, loader, scorer.device)

    margins = predictions.margins(scorer.normalization)  # normalised; Overall is their sum
    margins["Overall"] = sum(margins[d] for d in DIMENSIONS)
    labels = {c: predictions.labels[:, j] for j, c in enumerate(LABEL_COLUMNS)}
    report: dict[str, dict[str, Any]] = {}
    for name, acc in predictions.report(scorer.normalization).items():
        entry = acc.to_dict()
        entry["with_ties_ci95"] = bootstrap_ci(margins[name], labels[name], with_ties=True, n_boot=n_boot)
        entry["without_ties_ci95"] = bootstrap_ci(margins[name], labels[name], n_boot=n_boot)
        entry["tie_separation_auc"] = tie_separation_auc(margins[name], labels[name])
        report[name] = entry

    skipped = {str(s.path) for s in predictions.skipped}
    (out_dir / "evaluation.json").write_text(json.dumps({
        "report": report, "n_pairs": len(predictions.indices), "skipped_pairs": len(predictions.skipped),
        "skipped_files": sorted(skipped), "model": str(model_dir), "data": str(data_csv)}, indent=2))
    with (out_dir / "margins.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path_A", "path_B", *(f"margin_{d}" for d in margins), *(f"label_{c}" for c in LABEL_COLUMNS)])
        for row, index in enumerate(predictions.indices):
            rec = records[index]
            writer.writerow([rec.path_a, rec.path_b, *(f"{margins[d][row]:.6g}" for d in margins),
                             *("" if np.isnan(labels[c][row]) else int(labels[c][row]) for c in LABEL_COLUMNS)])
    # Raw margins (the scale the loss trained) through the probability that loss defines.
    train_cfg = scorer.config.train
    p_a = {d: decided_win_probability(torch.as_tensor(predictions.rewards_a[:, i] - predictions.rewards_b[:, i],
                                                      dtype=torch.float64), train_cfg.loss, train_cfg.theta).numpy()
           for i, d in enumerate(DIMENSIONS)}
    meaning = f"P_A / (P_A + P_B), BTT θ={train_cfg.theta:g}" if train_cfg.loss == "btt" else "σ(Δr)"
    files = [
        reliability_plot(p_a, labels, out_dir / "reliability.png", meaning),
        margin_distribution_plot({d: margins[d] for d in DIMENSIONS}, labels, out_dir / "margin_distribution.png"),
        out_dir / "evaluation.json",
        out_dir / "margins.csv",
    ]
    return EvaluationResult(report=report, n_pairs=len(predictions.indices), skipped_pairs=len(predictions.skipped),
                            skipped_files=sorted(skipped), files=files)
