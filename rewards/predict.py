"""Running the network over pairs: raw rewards of both videos, labels, and the accuracy report."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from rewards.checkpoint import Normalization
from rewards.config import DIMENSIONS
from rewards.data import LABEL_COLUMNS, PairBatch, SkippedPair
from rewards.metrics import DimensionAccuracy, accuracy_report
from rewards.network import RewardNetwork

logger = logging.getLogger(__name__)


@dataclass
class PairPredictions:
    rewards_a: np.ndarray  # (N, 3) raw rewards of the A videos
    rewards_b: np.ndarray  # (N, 3)
    labels: np.ndarray  # (N, 4) float: +1/−1/0, NaN where missing; columns VQ, MQ, TA, Overall
    indices: list[int]
    skipped: list[SkippedPair] = field(default_factory=list)

    def margins(self, normalization: Normalization) -> dict[str, np.ndarray]:
        """Per-dimension margins of normalised rewards (the scale the Overall sum is taken on)."""
        a = normalization.apply(torch.from_numpy(self.rewards_a)).numpy()
        b = normalization.apply(torch.from_numpy(self.rewards_b)).numpy()
        return {d: a[:, i] - b[:, i] for i, d in enumerate(DIMENSIONS)}

    def report(self, normalization: Normalization) -> dict[str, DimensionAccuracy]:
        labels = {c: self.labels[:, j] for j, c in enumerate(LABEL_COLUMNS)}
        if np.isnan(labels["Overall"]).all():
            del labels["Overall"]
        return accuracy_report(self.margins(normalization), labels)


@torch.no_grad()
def predict_pairs(network: RewardNetwork, batches: Iterable[PairBatch], device: torch.device) -> PairPredictions:
    was_training = network.training
    network.eval()
    rewards_a, rewards_b, labels, indices, skipped = [], [], [], [], []
    for batch in batches:
        skipped += batch.skipped
        if batch.inputs is None:
            continue
        rewards = network(batch.inputs.to(device)).float().cpu()  # (2B, 3): A videos, then B videos
        rewards_a.append(rewards[: batch.size])
        rewards_b.append(rewards[batch.size:])
        lab = batch.labels.to(torch.float64).clone()
        lab[~batch.valid.cpu()] = float("nan")
        labels.append(lab.cpu())
        indices += batch.indices
    network.train(was_training)
    if not indices:
        empty = np.zeros((0, len(DIMENSIONS)))
        return PairPredictions(empty, empty, np.zeros((0, len(LABEL_COLUMNS))), [], skipped)
    return PairPredictions(torch.cat(rewards_a).numpy(), torch.cat(rewards_b).numpy(),
                           torch.cat(labels).numpy(), indices, skipped)


def normalization_from(predictions: PairPredictions) -> Normalization:
    """Mean/std per dimension over every validation video (A and B sides)."""
    if not predictions.indices:
        return Normalization.identity()
    both = np.concatenate([predictions.rewards_a, predictions.rewards_b])
    return Normalization.measure(torch.from_numpy(both))
