"""The synthetic world as a reward-model benchmark: a cached preference dataset, its oracle ceiling, and
paired bootstrap intervals of "oracle minus model" on the same held-out pairs.

The dataset is ``synthetic.make_dataset`` (VideoAlign CSVs + oracle.csv) kept under
``VIDPREF_VAR/rewards/worlds/<hash of the settings>/`` and rebuilt when missing. Two additions live here,
not in ``synthetic`` (which another engineer owns):
- ``{split}_mos.csv``: the split with per-video 1–5 scores (``VQ_mos_A`` …) for the regression loss.
  make_dataset draws no MOS, so the annotator who labelled each row draws them here with
  ``synthetic.annotators.draw_mos`` from the videos' true utilities (seeded per row).
- the ceiling on one split: the oracle's accuracy computed by ``synthetic.oracle`` (a zero utility
  difference on a decided pair earns ½), next to the model's accuracy from ``rewards.metrics``.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewards.config import DIMENSIONS, ConfigError
from rewards.metrics import accuracy_with_ties, accuracy_without_ties
from rewards.pretrain_base import var_root

logger = logging.getLogger(__name__)

WORLD_FILE = "world.json"
LABEL_SIGN = {"A": 1.0, "B": -1.0, "same": 0.0}


@dataclass(frozen=True)
class WorldConfig:
    """Defaults: 4,000 training judgements (200 prompts × 20 pairs) by careful and noisy annotators,
    alternating, and a large test split (40 prompts, 800 pairs) so that the intervals are narrow. Eight of
    the twelve generators (every dimension has a strong and a weak one among them) keep the rendering to
    2,000 clips; clips match the tiny base's (112², 16 frames at 8 fps)."""

    n_prompts: int = 250
    pairs_per_prompt: int = 20
    generators: tuple[str, ...] = ("atlas-pro", "crisp-jitter", "smooth-drift", "soft-focus", "grainy-faithful",
                                   "still-life", "scene-mixer", "legacy-gan")
    split: tuple[float, float, float] = (0.8, 0.04, 0.16)
    annotators: tuple[str, ...] = ("careful", "noisy")
    seed: int = 1
    size: int = 112
    frames: int = 16
    fps: float = 8.0
    workers: int = 2

    def __post_init__(self) -> None:
        if self.n_prompts < 3 or self.pairs_per_prompt < 1:
            raise ConfigError("world needs n_prompts >= 3 and pairs_per_prompt >= 1")
        object.__setattr__(self, "split", tuple(self.split))
        object.__setattr__(self, "annotators", tuple(self.annotators))
        object.__setattr__(self, "generators", tuple(self.generators))

    def key(self) -> str:
        values = {k: v for k, v in asdict(self).items() if k != "workers"}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def ensure_world(cfg: WorldConfig, root: str | Path | None = None) -> Path:
    """The dataset folder for these settings, built (rendering every clip) when it is missing."""
    from synthetic.dataset import DatasetConfig, make_dataset
    from synthetic.render import RenderConfig

    directory = Path(root) if root is not None else var_root() / "rewards" / "worlds" / cfg.key()
    if (directory / WORLD_FILE).is_file():
        return directory
    logger.info("building the synthetic world %s (%d prompts)", directory, cfg.n_prompts)
    start, cpu = time.perf_counter(), time.process_time()
    summary = make_dataset(directory, DatasetConfig(
        n_prompts=cfg.n_prompts, generators=cfg.generators, seed=cfg.seed, labels=True, annotators=cfg.annotators,
        pairs_per_prompt=cfg.pairs_per_prompt, split_fractions=cfg.split,
        render=RenderConfig(frames=cfg.frames, fps=cfg.fps, size=cfg.size), workers=cfg.workers))
    for split in ("train", "val", "test"):
        write_mos_split(directory, split, cfg.seed)
    (directory / WORLD_FILE).write_text(json.dumps({
        "config": asdict(cfg), "comparisons": summary.comparisons, "oracle_all_pairs": summary.oracle,
        "build_wall_s": round(time.perf_counter() - start, 1),
        "build_cpu_s_main_process": round(time.process_time() - cpu, 1)}, indent=2))
    return directory


def read_utilities(directory: Path) -> dict[str, dict[str, float]]:
    """oracle.csv: video path → true utilities per dimension."""
    with (directory / "oracle.csv").open(newline="") as fh:
        return {row["path"]: {d: float(row[d]) for d in (*DIMENSIONS, "Overall")} for row in csv.DictReader(fh)}


def write_mos_split(directory: Path, split: str, seed: int) -> Path:
    """``{split}_mos.csv``: the split's rows plus MOS columns drawn by each row's annotator."""
    from synthetic.annotators import annotator_profile, draw_mos
    from synthetic.render import rng_for

    utilities = read_utilities(directory)
    with (directory / "annotations.csv").open(newline="") as fh:
        who = {(r["split"], r["path_A"], r["path_B"]): r["annotator"] for r in csv.DictReader(fh)}
    with (directory / f"{split}.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    mos_columns = [f"{d}_mos_{side}" for d in DIMENSIONS for side in ("A", "B")]
    for i, row in enumerate(rows):
        profile = annotator_profile(who[(split, row["path_A"], row["path_B"])])
        rng = rng_for(seed, f"mos:{split}:{i}")
        for side in ("A", "B"):
            for d in DIMENSIONS:
                row[f"{d}_mos_{side}"] = str(draw_mos(profile, utilities[row[f"path_{side}"]][d], d, rng))
    out = directory / f"{split}_mos.csv"
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns + mos_columns)
        writer.writeheader()
        writer.writerows(rows)
    return out


@dataclass
class SplitTruth:
    """Labels (+1/−1/0, NaN missing) and true-utility margins of one split, in row order."""

    labels: dict[str, np.ndarray]
    oracle_margins: dict[str, np.ndarray]
    annotators: list[str]


def split_truth(directory: Path, split: str) -> SplitTruth:
    utilities = read_utilities(directory)
    with (directory / "annotations.csv").open(newline="") as fh:
        who = {(r["split"], r["path_A"], r["path_B"]): r["annotator"] for r in csv.DictReader(fh)}
    with (directory / f"{split}.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    dims = (*DIMENSIONS, "Overall")
    labels = {d: np.array([LABEL_SIGN.get(r[d], np.nan) for r in rows]) for d in dims}
    margins = {d: np.array([utilities[r["path_A"]][d] - utilities[r["path_B"]][d] for r in rows]) for d in dims}
    return SplitTruth(labels, margins, [who.get((split, r["path_A"], r["path_B"]), "") for r in rows])


def oracle_without_ties(margins: np.ndarray, labels: np.ndarray) -> float:
    """The ceiling as ``synthetic.oracle`` defines it: a zero true difference on a decided pair earns ½."""
    decided = labels != 0
    if not decided.any():
        return float("nan")
    m, h = margins[decided], labels[decided]
    return float(np.mean(np.where(m == 0, 0.5, (np.sign(m) == h).astype(float))))


def oracle_with_ties(margins: np.ndarray, labels: np.ndarray) -> float:
    from synthetic.oracle import accuracy_with_ties as synthetic_with_ties

    return float(synthetic_with_ties(labels.astype(np.int64), margins).accuracy)


def _interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    alpha = (1 - level) / 2
    values = values[~np.isnan(values)]  # a resample without decided pairs has no accuracy without ties
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def compare_to_oracle(model_margins: Mapping[str, np.ndarray], truth: SplitTruth, n_boot: int = 1000,
                      seed: int = 0, dimensions: tuple[str, ...] = DIMENSIONS) -> dict[str, dict[str, Any]]:
    """Per dimension: model and oracle accuracy with and without ties, 95% intervals, and the gap
    oracle − model without ties with a paired interval (both resampled on the same pairs)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {}
    for d in dimensions:
        keep = ~np.isnan(truth.labels[d])
        m, o, h = np.asarray(model_margins[d])[keep], truth.oracle_margins[d][keep], truth.labels[d][keep]
        n = h.size
        model_wo, oracle_wo = accuracy_without_ties(m, h), oracle_without_ties(o, h)
        boot = np.empty((n_boot, 4))
        for b in range(n_boot):
            idx = rng.integers(0, n, n)
            boot[b] = (accuracy_without_ties(m[idx], h[idx]), oracle_without_ties(o[idx], h[idx]),
                       accuracy_with_ties(m[idx], h[idx]).accuracy, oracle_with_ties(o[idx], h[idx]))
        tie = accuracy_with_ties(m, h)
        out[d] = {
            "n": int(n), "n_decided": int((h != 0).sum()),
            "model_without_ties": model_wo, "model_without_ties_ci95": _interval(boot[:, 0]),
            "oracle_without_ties": oracle_wo, "oracle_without_ties_ci95": _interval(boot[:, 1]),
            "gap_without_ties": oracle_wo - model_wo, "gap_without_ties_ci95": _interval(boot[:, 1] - boot[:, 0]),
            "model_with_ties": tie.accuracy, "model_epsilon": tie.epsilon,
            "model_with_ties_ci95": _interval(boot[:, 2]),
            "oracle_with_ties": oracle_with_ties(o, h), "oracle_with_ties_ci95": _interval(boot[:, 3]),
        }
    return out
