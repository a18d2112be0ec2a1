"""Preference pairs for alignment: from a platform export or from reward-scored generated samples.

Export rows use the VideoAlign CSV layout
`path_A,path_B,prompt,VQ,MQ,TA[,Overall],fps_A,num_frames_A,fps_B,num_frames_B` with labels A / B / same.
A row becomes a pair when its weighted preference Σ_d w_d·label_d (A → +1, B → −1, same → 0) is non-zero;
the sign says which video wins. Relative paths are resolved against the CSV's folder (or `root`).
"""
from __future__ import annotations

import csv
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

LABEL_VALUES = {"A": 1, "B": -1, "same": 0}
DIMENSIONS = ("VQ", "MQ", "TA", "Overall")
EXPORT_COLUMNS = ("path_A", "path_B", "prompt", *DIMENSIONS, "fps_A", "num_frames_A", "fps_B", "num_frames_B")


class PairsError(ValueError):
    """Preference data that cannot be used; the message names the file, row and field."""


@dataclass(frozen=True)
class VideoRef:
    path: Path
    fps: float | None = None
    num_frames: int | None = None


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    winner: VideoRef
    loser: VideoRef
    preference: float  # |weighted preference| (export) or the winner's reward lead (generated)
    labels: dict[str, str] = field(default_factory=dict, compare=False)  # per dimension, winner as "A"


@dataclass
class PairSet:
    pairs: list[PreferencePair]
    rows: int
    undecided: int  # weighted preference exactly zero
    invalid: int  # a weighted dimension's label is not A / B / same


def parse_weights(text: str) -> dict[str, float]:
    """'VQ=1,MQ=0.5,TA=0' → {"VQ": 1.0, "MQ": 0.5, "TA": 0.0}; '1:1:1' is shorthand for VQ:MQ:TA."""
    text = text.strip()
    if ":" in text and "=" not in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise PairsError(f"weights {text!r}: the VQ:MQ:TA shorthand needs three numbers")
        items = list(zip(("VQ", "MQ", "TA"), parts, strict=True))
    else:
        items = []
        for item in text.split(","):
            name, sep, value = item.partition("=")
            if not sep:
                raise PairsError(f"weights {text!r}: expected NAME=NUMBER, got {item!r}")
            items.append((name.strip(), value))
    weights: dict[str, float] = {}
    for name, value in items:
        if name not in DIMENSIONS:
            raise PairsError(f"weights {text!r}: unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}")
        try:
            weights[name] = float(value)
        except ValueError as exc:
            raise PairsError(f"weights {text!r}: {name} weight {value!r} is not a number") from exc
    if not any(weights.values()):
        raise PairsError(f"weights {text!r}: at least one weight must be non-zero")
    return weights


def _optional_number(row: dict[str, str], column: str, kind: type, where: str) -> float | int | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise PairsError(f"{where}: {column} {value!r} is not a number") from exc
    return int(number) if kind is int else number


def _resolve(path_text: str, base: Path, where: str, column: str, check_files: bool) -> Path:
    if not path_text.strip():
        raise PairsError(f"{where}: {column} is empty")
    path = Path(path_text.strip())
    path = path if path.is_absolute() else (base / path)
    if check_files and not path.is_file():
        raise PairsError(f"{where}: {column} video file not found: {path}")
    return path


@dataclass(frozen=True)
class Comparison:
    """One export row as it is: two videos and the per-dimension labels (A / B / same, or anything invalid)."""

    prompt: str
    video_a: VideoRef
    video_b: VideoRef
    labels: dict[str, str]
    where: str  # file:line, for messages


def load_export_comparisons(
    csv_path: str | Path,
    dimensions: Iterable[str] = ("VQ", "MQ", "TA"),
    root: str | Path | None = None,
    check_files: bool = True,
) -> list[Comparison]:
    """Every row of a VideoAlign-layout export; `dimensions` must be columns of the file."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise PairsError(f"pairs file not found: {csv_path}")
    base = Path(root) if root is not None else csv_path.parent
    out = []
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"path_A", "path_B", "prompt", *dimensions} - set(reader.fieldnames or [])
        if missing:
            raise PairsError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            where = f"{csv_path}:{line}"
            video_a = VideoRef(
                _resolve(row["path_A"], base, where, "path_A", check_files),
                _optional_number(row, "fps_A", float, where),
                _optional_number(row, "num_frames_A", int, where),
            )
            video_b = VideoRef(
                _resolve(row["path_B"], base, where, "path_B", check_files),
                _optional_number(row, "fps_B", float, where),
                _optional_number(row, "num_frames_B", int, where),
            )
            labels = {d: (row.get(d) or "").strip() for d in DIMENSIONS if (row.get(d) or "").strip()}
            out.append(Comparison(row["prompt"], video_a, video_b, labels, where))
    return out


def load_export_pairs(
    csv_path: str | Path,
    weights: dict[str, float],
    root: str | Path | None = None,
    check_files: bool = True,
) -> PairSet:
    """Read a VideoAlign-layout export and keep the rows whose weighted preference is decided."""
    weighted = {d: w for d, w in weights.items() if w}
    comparisons = load_export_comparisons(csv_path, weighted, root, check_files)
    pairs: list[PreferencePair] = []
    undecided = invalid = 0
    for c in comparisons:
        if any(c.labels.get(d) not in LABEL_VALUES for d in weighted):
            invalid += 1
            continue
        score = sum(w * LABEL_VALUES[c.labels[d]] for d, w in weighted.items())
        if score == 0:
            undecided += 1
            continue
        a_wins = score > 0
        pairs.append(
            PreferencePair(
                prompt=c.prompt,
                winner=c.video_a if a_wins else c.video_b,
                loser=c.video_b if a_wins else c.video_a,
                preference=abs(score),
                labels=c.labels if a_wins else {d: _swap(v) for d, v in c.labels.items()},
            )
        )
    if invalid:
        logger.warning("%s: %d row(s) skipped for a label other than A/B/same in a weighted dimension", csv_path, invalid)
    return PairSet(pairs=pairs, rows=len(comparisons), undecided=undecided, invalid=invalid)


def _swap(label: str) -> str:
    return {"A": "B", "B": "A"}.get(label, label)


@dataclass(frozen=True)
class ScoredSample:
    prompt: str
    video: VideoRef
    scores: dict[str, float]

    def reward(self, weights: dict[str, float]) -> float:
        missing = [d for d, w in weights.items() if w and d not in self.scores]
        if missing:
            raise PairsError(f"{self.video.path}: no score for {', '.join(missing)}")
        return sum(w * self.scores[d] for d, w in weights.items() if w)


def load_scored_samples(csv_path: str | Path, check_files: bool = True) -> list[ScoredSample]:
    """`path,prompt,<score columns>[,fps,num_frames]`: every other numeric column is a score."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise PairsError(f"samples file not found: {csv_path}")
    samples = []
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"path", "prompt"} <= set(reader.fieldnames or []):
            raise PairsError(f"{csv_path}: needs columns path and prompt")
        score_columns = [c for c in reader.fieldnames or [] if c not in ("path", "prompt", "fps", "num_frames")]
        for line, row in enumerate(reader, start=2):
            where = f"{csv_path}:{line}"
            scores = {c: _optional_number(row, c, float, where) for c in score_columns}
            video = VideoRef(
                _resolve(row["path"], csv_path.parent, where, "path", check_files),
                _optional_number(row, "fps", float, where),
                _optional_number(row, "num_frames", int, where),
            )
            samples.append(ScoredSample(row["prompt"], video, {c: s for c, s in scores.items() if s is not None}))
    return samples


def pairs_from_scored_samples(samples: Iterable[ScoredSample], weights: dict[str, float]) -> list[PreferencePair]:
    """The paper's way: per prompt, the best sample by weighted reward against the worst; ties dropped."""
    by_prompt: dict[str, list[ScoredSample]] = defaultdict(list)
    for s in samples:
        by_prompt[s.prompt].append(s)
    pairs = []
    for prompt, group in by_prompt.items():
        if len(group) < 2:
            continue
        ranked = sorted(group, key=lambda s: s.reward(weights))
        worst, best = ranked[0], ranked[-1]
        lead = best.reward(weights) - worst.reward(weights)
        if not lead > 0 or math.isnan(lead):
            continue
        labels = {d: _compare(best.scores.get(d), worst.scores.get(d)) for d in ("VQ", "MQ", "TA")}
        labels = {d: v for d, v in labels.items() if v}
        labels["Overall"] = "A"
        pairs.append(PreferencePair(prompt, best.video, worst.video, lead, labels))
    return pairs


def _compare(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    return "A" if a > b else "B" if a < b else "same"


def write_pairs_csv(pairs: Iterable[PreferencePair], csv_path: str | Path) -> Path:
    """Write pairs in the export layout, winner as A, so `load_export_pairs(..., {"Overall": 1})` reads them back."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for p in pairs:
            writer.writerow(
                {
                    "path_A": str(p.winner.path),
                    "path_B": str(p.loser.path),
                    "prompt": p.prompt,
                    **{d: p.labels.get(d, "") for d in DIMENSIONS},
                    "fps_A": "" if p.winner.fps is None else p.winner.fps,
                    "num_frames_A": "" if p.winner.num_frames is None else p.winner.num_frames,
                    "fps_B": "" if p.loser.fps is None else p.loser.fps,
                    "num_frames_B": "" if p.loser.num_frames is None else p.loser.num_frames,
                }
            )
    return csv_path


def split_by_prompt(
    pairs: Sequence[PreferencePair], heldout_fraction: float, seed: int = 0
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held-out) with disjoint prompts: a prompt is held out when its seeded hash falls below the fraction."""
    def bucket(prompt: str) -> float:
        digest = hashlib.sha256(f"{seed}|{prompt}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    heldout = [p for p in pairs if bucket(p.prompt) < heldout_fraction]
    train = [p for p in pairs if bucket(p.prompt) >= heldout_fraction]
    return train, heldout
