"""make-dataset: N prompts × M generators of videos, pairwise comparisons in the VideoAlign CSV layout.

Output folder:
- `videos/<prompt index>_<generator>.mp4`
- `train.csv`, `val.csv`, `test.csv`: exactly the VideoAlign trainer's columns (SPLIT_COLUMNS), paths relative to
  the folder, labels A/B/same (empty without labels); the split is by prompt
- `oracle.csv`: one row per video: path, sha256, generator, prompt, seed, true utilities, defect severities
- `prompts.csv`: one row per prompt with its attributes and split
- `annotations.csv` (with labels): which simulated annotator labelled each comparison, and its lead time
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from synthetic.annotators import SIDE_TO_AB, ShownVideo, annotator_profile, decide
from synthetic.defects import CHECKLIST_KEYS, DEFECT_NAMES, Defects
from synthetic.encode import FORMATS, encode_frames
from synthetic.generators import GENERATORS, generator_profile
from synthetic.oracle import oracle_accuracy, oracle_utilities
from synthetic.prompts import PromptAttrs, sample_prompts
from synthetic.render import RenderConfig, render_frames, rng_for

logger = logging.getLogger(__name__)

SPLIT_COLUMNS: tuple[str, ...] = (
    "path_A", "path_B", "A_model", "B_model", "prompt", "VQ", "MQ", "TA", "Overall",
    "fps_A", "num_frames_A", "fps_B", "num_frames_B",
)
ORACLE_COLUMNS: tuple[str, ...] = (
    "path", "sha256", "generator", "prompt", "seed", "VQ", "MQ", "TA", "Overall", *DEFECT_NAMES,
)
PROMPT_COLUMNS: tuple[str, ...] = ("prompt", "color", "shape", "count", "action", "background", "tint", "camera",
                                   "split")
SPLITS: tuple[str, ...] = ("train", "val", "test")
LABEL_DIMENSIONS: tuple[str, ...] = ("VQ", "MQ", "TA", "Overall")


class DatasetError(ValueError):
    """Invalid make-dataset settings."""


@dataclass(frozen=True)
class DatasetConfig:
    n_prompts: int
    generators: tuple[str, ...] = tuple(GENERATORS)
    seed: int = 0
    labels: bool = True
    annotators: tuple[str, ...] = ("careful",)
    pairs_per_prompt: int | None = None  # None: every pair of generators
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    render: RenderConfig = field(default_factory=RenderConfig)
    fmt: str = "mp4"
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.n_prompts < 1:
            raise DatasetError(f"n_prompts must be >= 1, got {self.n_prompts}")
        if len(self.generators) < 2:
            raise DatasetError(f"need at least two generators to compare, got {self.generators}")
        for name in self.generators:
            generator_profile(name)
        if len(set(self.generators)) != len(self.generators):
            raise DatasetError(f"generators repeat: {self.generators}")
        if self.labels and not self.annotators:
            raise DatasetError("labels need at least one annotator type")
        for kind in self.annotators:
            annotator_profile(kind)
        if self.pairs_per_prompt is not None and self.pairs_per_prompt < 1:
            raise DatasetError(f"pairs_per_prompt must be >= 1, got {self.pairs_per_prompt}")
        if len(self.split_fractions) != 3 or min(self.split_fractions) < 0 or abs(sum(self.split_fractions) - 1) > 1e-6:
            raise DatasetError(f"split_fractions must be three non-negative numbers summing to 1: {self.split_fractions}")
        if self.fmt not in FORMATS:
            raise DatasetError(f"unknown video format {self.fmt!r}; known: {tuple(FORMATS)}")


@dataclass(frozen=True)
class VideoRecord:
    path: str
    sha256: str
    generator: str
    prompt: PromptAttrs
    seed: int
    defects: Defects
    utilities: dict[str, float]


@dataclass
class DatasetSummary:
    out_dir: Path
    n_videos: int
    comparisons: dict[str, int]
    oracle: dict[str, dict[str, float]]  # dimension -> oracle_accuracy(...) over all labelled comparisons


def video_seed(seed: int, prompt_index: int, generator: str) -> int:
    return int(np.random.SeedSequence([seed, prompt_index, *generator.encode()]).generate_state(1)[0])


def _render_job(job: tuple[str, int, dict[str, float], RenderConfig, str, str]) -> str:
    text, seed, defects, config, fmt, out_path = job
    data = encode_frames(render_frames(text, seed, Defects(**defects), config), fps=config.fps, fmt=fmt)
    Path(out_path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def split_prompts(n: int, fractions: tuple[float, float, float], seed: int) -> list[str]:
    """A split name per prompt index; every non-empty fraction gets at least one prompt when n allows."""
    order = rng_for(seed, "split").permutation(n)
    counts = [int(round(f * n)) for f in fractions]
    for i in range(3):
        if fractions[i] > 0 and counts[i] == 0 and n >= 3:
            counts[i] = 1
    counts[0] = n - counts[1] - counts[2]
    names = np.empty(n, dtype=object)
    start = 0
    for name, count in zip(SPLITS, counts, strict=True):
        names[order[start:start + count]] = name
        start += count
    return list(names)


def _float_text(value: float) -> str:
    return repr(float(value))


def render_videos(config: DatasetConfig, prompts: list[PromptAttrs], out_dir: Path, progress: bool) -> list[VideoRecord]:
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    specs = []
    for i, attrs in enumerate(prompts):
        for name in config.generators:
            seed = video_seed(config.seed, i, name)
            defects = generator_profile(name).sample(rng_for(seed, "generator"))
            rel = f"videos/{i:05d}_{name}.{config.fmt}"
            specs.append((rel, name, attrs, seed, defects))
    jobs = [(attrs.text, seed, d.to_dict(), config.render, config.fmt, str(out_dir / rel))
            for rel, _, attrs, seed, d in specs]
    workers = config.workers or os.cpu_count() or 1
    bar = tqdm(total=len(jobs), desc="render", unit="clip", disable=not progress)
    if workers == 1:
        digests = []
        for job in jobs:
            digests.append(_render_job(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            digests = []
            for digest in pool.map(_render_job, jobs, chunksize=16):
                digests.append(digest)
                bar.update()
    bar.close()
    return [VideoRecord(rel, digest, name, attrs, seed, d, oracle_utilities(d, attrs))
            for (rel, name, attrs, seed, d), digest in zip(specs, digests, strict=True)]


def _comparisons(config: DatasetConfig, n_prompts: int) -> list[tuple[int, int, int]]:
    """(prompt index, generator index shown as A, generator index shown as B)."""
    rng = rng_for(config.seed, "pairs")
    all_pairs = list(itertools.combinations(range(len(config.generators)), 2))
    out = []
    for i in range(n_prompts):
        chosen = all_pairs
        if config.pairs_per_prompt is not None and config.pairs_per_prompt < len(all_pairs):
            picks = rng.choice(len(all_pairs), size=config.pairs_per_prompt, replace=False)
            chosen = [all_pairs[k] for k in sorted(picks)]
        for a, b in chosen:
            out.append((i, a, b) if rng.random() < 0.5 else (i, b, a))
    return out


def make_dataset(out_dir: str | Path, config: DatasetConfig | None = None, progress: bool = False,
                 **settings: object) -> DatasetSummary:
    """Build the dataset described in the module docstring; deterministic per `config.seed`.

    Pass a `DatasetConfig`, or its fields as keywords: `make_dataset(out, n_prompts=20, seed=1, labels=False)`.
    """
    if config is None:
        config = DatasetConfig(**settings)  # type: ignore[arg-type]
    elif settings:
        raise DatasetError(f"give either a DatasetConfig or settings, not both: {sorted(settings)}")
    out_dir = Path(out_dir)
    prompts = sample_prompts(config.n_prompts, config.seed)
    splits = split_prompts(len(prompts), config.split_fractions, config.seed)
    videos = render_videos(config, prompts, out_dir, progress)
    n_gen = len(config.generators)
    rows: dict[str, list[dict[str, str]]] = {s: [] for s in SPLITS}
    annotations = []
    labelled: dict[str, list[tuple[str, float, float]]] = {d: [] for d in LABEL_DIMENSIONS}
    fps = _float_text(config.render.fps)
    frames = _float_text(config.render.frames)
    for k, (i, a, b) in enumerate(_comparisons(config, len(prompts))):
        va, vb = videos[i * n_gen + a], videos[i * n_gen + b]
        row = {"path_A": va.path, "path_B": vb.path, "A_model": va.generator, "B_model": vb.generator,
               "prompt": prompts[i].text, "fps_A": fps, "num_frames_A": frames, "fps_B": fps, "num_frames_B": frames}
        row.update({d: "" for d in LABEL_DIMENSIONS})
        if config.labels:
            kind = config.annotators[k % len(config.annotators)]
            decision = decide(
                annotator_profile(kind),
                ShownVideo(va.utilities, va.defects, va.prompt), ShownVideo(vb.utilities, vb.defects, vb.prompt),
                list(LABEL_DIMENSIONS), CHECKLIST_KEYS, asks_mos=False,
                rng=rng_for(config.seed, f"annotate:{kind}:{k}"),
            )
            for d in LABEL_DIMENSIONS:
                row[d] = SIDE_TO_AB[decision.labels[d]]
                labelled[d].append((row[d], va.utilities[d], vb.utilities[d]))
            annotations.append({"split": splits[i], "path_A": va.path, "path_B": vb.path, "annotator": kind,
                                "lead_time_ms": str(decision.lead_time_ms)})
        rows[splits[i]].append(row)
    for split in SPLITS:
        _write_csv(out_dir / f"{split}.csv", SPLIT_COLUMNS, rows[split])
    _write_csv(out_dir / "oracle.csv", ORACLE_COLUMNS, [_oracle_row(v) for v in videos])
    _write_csv(out_dir / "prompts.csv", PROMPT_COLUMNS,
               [{**{k: ("" if v is None else str(v)) for k, v in p.to_dict().items()}, "prompt": p.text, "split": s}
                for p, s in zip(prompts, splits, strict=True)])
    if config.labels:
        _write_csv(out_dir / "annotations.csv", ("split", "path_A", "path_B", "annotator", "lead_time_ms"), annotations)
    oracle = {}
    if config.labels:
        for d, triples in labelled.items():
            labels, ua, ub = zip(*triples, strict=True)
            oracle[d] = oracle_accuracy(labels, ua, ub)
    summary = DatasetSummary(out_dir, len(videos), {s: len(rows[s]) for s in SPLITS}, oracle)
    logger.info("dataset %s: %d videos, comparisons %s", out_dir, len(videos), summary.comparisons)
    return summary


def _oracle_row(video: VideoRecord) -> dict[str, str]:
    row = {"path": video.path, "sha256": video.sha256, "generator": video.generator, "prompt": video.prompt.text,
           "seed": str(video.seed)}
    row.update({k: f"{v:.6f}" for k, v in video.utilities.items()})
    row.update({k: f"{v:.6f}" for k, v in video.defects.to_dict().items()})
    return row


def _write_csv(path: Path, columns: Sequence[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class OracleEntry:
    """One video of a dataset as the oracle knows it (read back from oracle.csv)."""

    path: str
    generator: str
    prompt: PromptAttrs
    seed: int
    defects: Defects
    utilities: dict[str, float]


def read_oracle(dataset_dir: str | Path) -> dict[str, OracleEntry]:
    """oracle.csv keyed by the video's sha256."""
    from synthetic.prompts import parse_prompt

    path = Path(dataset_dir) / "oracle.csv"
    if not path.is_file():
        raise DatasetError(f"no oracle.csv in dataset folder {dataset_dir}")
    out = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            missing = set(ORACLE_COLUMNS) - set(row)
            if missing:
                raise DatasetError(f"{path}: missing columns {sorted(missing)}")
            out[row["sha256"]] = OracleEntry(
                path=row["path"], generator=row["generator"], prompt=parse_prompt(row["prompt"]), seed=int(row["seed"]),
                defects=Defects(**{k: float(row[k]) for k in DEFECT_NAMES}),
                utilities={d: float(row[d]) for d in LABEL_DIMENSIONS},
            )
    return out
