"""Reading VideoAlign-layout preference CSVs and turning pairs into model batches.

Columns: ``path_A, path_B, prompt, VQ, MQ, TA[, Overall], fps_A, num_frames_A, fps_B, num_frames_B
[, A_model, B_model]``; optional MOS columns ``VQ_mos_A, VQ_mos_B, ...`` (1–5) for the regression loss.
Labels A/B/same become +1/−1/0; anything else (empty, "n/a", a typo) is masked out of loss and accuracy.
Relative video paths resolve against the media directory (default: the CSV's folder).

A missing or corrupt video never stops a run: the pair is skipped, counted, and logged once with the file.
"""
from __future__ import annotations

import csv
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from rewards.clip_cache import ClipCache
from rewards.config import DIMENSIONS, ModelConfig
from rewards.template import ModelInputs, build_inputs
from rewards.video_input import VideoDecodeError, VideoPatches

logger = logging.getLogger(__name__)

LABEL_VALUES: dict[str, int] = {"A": 1, "B": -1, "same": 0}
REQUIRED_COLUMNS: tuple[str, ...] = ("path_A", "path_B", "prompt", *DIMENSIONS)
LABEL_COLUMNS: tuple[str, ...] = (*DIMENSIONS, "Overall")


class DatasetFormatError(ValueError):
    """The preference file is unreadable or lacks a column; the message names the file and column."""


@dataclass(frozen=True)
class PairRecord:
    path_a: Path
    path_b: Path
    prompt: str
    # +1 / −1 / 0, or None for a missing/invalid label; keys VQ, MQ, TA, Overall.
    labels: dict[str, int | None]
    declared_fps_a: float | None = None
    declared_fps_b: float | None = None
    model_a: str = ""
    model_b: str = ""
    # (MOS of A, MOS of B) per dimension, when the file has them.
    mos: dict[str, tuple[float, float]] = field(default_factory=dict)


def parse_label(value: str | None) -> int | None:
    return LABEL_VALUES.get((value or "").strip())


def _float_or_none(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def read_pairs(csv_path: str | Path, media_dir: str | Path | None = None) -> list[PairRecord]:
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetFormatError(f"preference file not found: {csv_path}")
    media = Path(media_dir) if media_dir is not None else csv_path.parent
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise DatasetFormatError(f"{csv_path}: missing column(s) {missing}")
        records = []
        for row in reader:
            mos = {}
            for d in DIMENSIONS:
                a, b = _float_or_none(row.get(f"{d}_mos_A")), _float_or_none(row.get(f"{d}_mos_B"))
                if a is not None and b is not None:
                    mos[d] = (a, b)
            records.append(PairRecord(
                path_a=media / row["path_A"],
                path_b=media / row["path_B"],
                prompt=row["prompt"] or "",
                labels={c: parse_label(row.get(c)) for c in LABEL_COLUMNS},
                declared_fps_a=_float_or_none(row.get("fps_A")),
                declared_fps_b=_float_or_none(row.get("fps_B")),
                model_a=row.get("A_model") or "",
                model_b=row.get("B_model") or "",
                mos=mos,
            ))
    return records


def split_by_prompt(records: Sequence[PairRecord], val_fraction: float, seed: int) -> tuple[list, list]:
    """Hold out whole prompts, so no prompt appears in both training and validation."""
    prompts = sorted({r.prompt for r in records})
    random.Random(seed).shuffle(prompts)
    n_val = max(1, round(len(prompts) * val_fraction)) if len(prompts) > 1 else 0
    val_prompts = set(prompts[:n_val])
    return ([r for r in records if r.prompt not in val_prompts], [r for r in records if r.prompt in val_prompts])


@dataclass
class PairSample:
    index: int
    video_a: VideoPatches
    video_b: VideoPatches
    prompt: str
    record: PairRecord


@dataclass
class SkippedPair:
    index: int
    path: Path
    reason: str


class PairDataset(Dataset):
    """Decodes (through the clip cache) the two videos of a pair; a bad video yields a SkippedPair."""

    def __init__(self, records: Sequence[PairRecord], cache: ClipCache) -> None:
        self.records = list(records)
        self.cache = cache

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> PairSample | SkippedPair:
        rec = self.records[index]
        videos = []
        for path, fps in ((rec.path_a, rec.declared_fps_a), (rec.path_b, rec.declared_fps_b)):
            try:
                videos.append(self.cache.patches(path, fps))
            except VideoDecodeError as exc:
                return SkippedPair(index=index, path=path, reason=str(exc))
        return PairSample(index=index, video_a=videos[0], video_b=videos[1], prompt=rec.prompt, record=rec)


@dataclass
class PairBatch:
    """B pairs: ``inputs`` holds 2B sequences, the A videos first, then the B videos."""

    inputs: ModelInputs | None
    labels: torch.Tensor  # (B, 4) int64 for VQ, MQ, TA, Overall (0 where invalid)
    valid: torch.Tensor  # (B, 4) bool
    mos: torch.Tensor  # (B, 2, 3) float32, NaN where absent
    indices: list[int]
    skipped: list[SkippedPair]

    @property
    def size(self) -> int:
        return len(self.indices)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PairBatch:
        return PairBatch(
            inputs=self.inputs.to(device) if self.inputs is not None else None,
            labels=self.labels.to(device), valid=self.valid.to(device), mos=self.mos.to(device),
            indices=self.indices, skipped=self.skipped,
        )


class PairCollator:
    """Builds a PairBatch; holds only the tokenizer and layout (picklable for data-loader workers)."""

    def __init__(self, tokenizer, reward_token_ids: Sequence[int], cfg: ModelConfig, merge_size: int) -> None:
        self.tokenizer = tokenizer
        self.reward_token_ids = list(reward_token_ids)
        self.cfg = cfg
        self.merge_size = merge_size

    def __call__(self, items: Sequence[PairSample | SkippedPair]) -> PairBatch:
        samples = [s for s in items if isinstance(s, PairSample)]
        skipped = [s for s in items if isinstance(s, SkippedPair)]
        labels = torch.zeros((len(samples), len(LABEL_COLUMNS)), dtype=torch.long)
        valid = torch.zeros((len(samples), len(LABEL_COLUMNS)), dtype=torch.bool)
        mos = torch.full((len(samples), 2, len(DIMENSIONS)), float("nan"))
        for i, s in enumerate(samples):
            for j, column in enumerate(LABEL_COLUMNS):
                value = s.record.labels.get(column)
                if value is not None:
                    labels[i, j], valid[i, j] = value, True
            for j, d in enumerate(DIMENSIONS):
                if d in s.record.mos:
                    mos[i, :, j] = torch.tensor(s.record.mos[d])
        inputs = None
        if samples:
            videos = [s.video_a for s in samples] + [s.video_b for s in samples]
            prompts = [s.prompt for s in samples] * 2
            inputs = build_inputs(self.tokenizer, videos, prompts, self.reward_token_ids, self.cfg, self.merge_size)
        return PairBatch(inputs=inputs, labels=labels, valid=valid, mos=mos,
                         indices=[s.index for s in samples], skipped=skipped)


class EpochShuffleSampler(Sampler[int]):
    """A permutation that depends only on (seed, epoch), so a resumed run sees the same order."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(np.random.default_rng((self.seed, self.epoch)).permutation(self.size).tolist())

    def __len__(self) -> int:
        return self.size
