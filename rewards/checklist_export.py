"""Checklist judgements read from the platform's JSONL export, for the checklist model.

One line per judgement, as ``python manage.py export_dataset --format jsonl`` writes it (other fields omitted):
    {"VQ": "A", "MQ": "same", "TA": "B", "Overall": "", "checklist": {"A": {"VQ": ["clarity"]}, "B": {}}}
Labels are in A/B terms: A, B or same; anything else (an empty Overall, an unknown word) is a missing label, as
in the trainer. The older hand-written form ``{"labels": {"VQ": ...}, "checklist": {...}}`` is still read.

The export does not carry the project's checklist definition, and projects differ (the default guideline, the
VisionReward preset, custom lists), so the items of each dimension are the ones ticked somewhere in the file,
in sorted order. An item nobody ticked would carry no information for the fit anyway.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rewards.config import DIMENSIONS  # the dimensions a project's checklist can have

SIDES: tuple[str, ...] = ("A", "B")
LABELS: dict[str, float] = {"A": 1.0, "B": -1.0, "same": 0.0}

Ticks = dict[str, tuple[frozenset[str], frozenset[str]]]  # dimension -> (items ticked for A, for B)


class ChecklistFormatError(ValueError):
    """A checklist export line is malformed; the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class ChecklistData:
    """One dimension of an export: its items, both videos' 0/1 flags (N, K) and labels (N,) +1/−1/0/NaN."""

    keys: tuple[str, ...]
    flags_a: np.ndarray
    flags_b: np.ndarray
    labels: np.ndarray


def _labels(item: Mapping) -> dict[str, float]:
    if "labels" in item:
        source = item["labels"]
        if not isinstance(source, dict):
            raise ValueError(f"'labels' must be an object keyed by dimension, got {type(source).__name__}")
    elif any(d in item for d in DIMENSIONS):
        source = item
    else:
        raise ValueError(f"no labels: expected the keys {', '.join(DIMENSIONS)} (the platform's JSONL export)")
    labels = {}
    for d in DIMENSIONS:
        value = source.get(d)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"the {d} label must be a string (A, B or same), got {value!r}")
        labels[d] = LABELS.get((value or "").strip(), np.nan)
    return labels


def _ticks(item: Mapping) -> Ticks:
    checklist = item.get("checklist") or {}  # a judgement without ticks is exported as {} (or null)
    if not isinstance(checklist, dict):
        raise ValueError(f"'checklist' must be an object keyed by side (A, B), got {type(checklist).__name__}")
    for side, per_dimension in checklist.items():
        if side not in SIDES:
            raise ValueError(f"checklist side {side!r} is not A or B")
        if not isinstance(per_dimension or {}, dict):
            raise ValueError(f"checklist {side} must be an object keyed by dimension")
        for d, keys in (per_dimension or {}).items():
            if d not in DIMENSIONS:
                raise ValueError(f"unknown checklist dimension {d!r} under {side} (expected {', '.join(DIMENSIONS)})")
            if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
                raise ValueError(f"checklist {side}.{d} must be a list of item keys, got {keys!r}")
    return {d: tuple(frozenset((checklist.get(side) or {}).get(d, ())) for side in SIDES) for d in DIMENSIONS}


def parse_judgement(line: str) -> tuple[dict[str, float], Ticks]:
    """One export line → (labels per dimension, ticked items per dimension); ValueError says what is wrong."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object (one judgement), got {type(item).__name__}")
    return _labels(item), _ticks(item)


def read_checklist_jsonl(path: str | Path) -> dict[str, ChecklistData]:
    """The platform's JSONL export → ChecklistData per dimension (VQ, MQ, TA)."""
    path = Path(path)
    rows: list[tuple[dict[str, float], Ticks]] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_judgement(line))
            except ValueError as exc:
                raise ChecklistFormatError(f"{path}:{number}: {exc}") from exc
    if not rows:
        raise ChecklistFormatError(f"{path}: no judgements in the file")
    data = {}
    for d in DIMENSIONS:
        keys = tuple(sorted({k for _, ticks in rows for side in ticks[d] for k in side}))
        column = {k: i for i, k in enumerate(keys)}
        flags = np.zeros((2, len(rows), len(keys)))
        for n, (_, ticks) in enumerate(rows):
            for s, ticked in enumerate(ticks[d]):
                flags[s, n, [column[k] for k in ticked]] = 1.0
        data[d] = ChecklistData(keys=keys, flags_a=flags[0], flags_b=flags[1],
                                labels=np.array([labels[d] for labels, _ in rows], dtype=np.float64))
    return data
