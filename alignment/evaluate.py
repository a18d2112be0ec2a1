"""`evaluate`: aligned (or reward-guided) generator against its pretrained base, same prompts, same seeds.

Every (prompt, seed) is sampled by the base and by each arm from the same starting noise, both samples are scored
by a judge (the synthetic world's pixel analyser, `alignment.world.judge`), and the per-dimension win rates
are laid out as the paper's Table 4 (one row per arm, one column per dimension; ties — score differences within
the judge's measurement noise — count half), with 95% intervals and the paired effect size. The quality gate
(colour, shape and direction right) is reported for the base and every arm when the judge checks them (the pixel
analyser does, a reward model does not). Written for eyes: sample grids as PNG, side-by-side mp4s
(`alignment.side_by_side`), and every pair's per-side scores in pairs.jsonl so that the table can be recounted.
"""
from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alignment.evaluation import Z_95, WinRate, win_rate_table

logger = logging.getLogger(__name__)

DIMENSIONS = ("VQ", "MQ", "TA")
GATE_CHECKS = ("color", "shape", "direction")


@dataclass
class Judgement:
    utilities: dict[str, float]  # per dimension, higher is better
    noise: dict[str, float]  # per dimension, the measurement noise of that utility (≥ 0)
    checks: dict[str, bool]  # gate attributes right or wrong: color, shape, direction (empty: not checked)
    video: str | None = None  # the file the judge scored, when it scored a file


Judge = Callable[[np.ndarray, str], Judgement]


@dataclass(frozen=True)
class Arm:
    """One way of sampling compared with the base: a LoRA, reward guidance, or both."""

    name: str
    lora: Path | None = None
    reward_model: Path | None = None
    guidance: dict[str, float] | None = None
    guidance_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.lora is None and self.guidance is None:
            raise ValueError(f"arm {self.name!r}: needs a LoRA or guidance weights (otherwise it is the base)")
        if self.guidance is not None and self.reward_model is None:
            raise ValueError(f"arm {self.name!r}: guidance needs a reward model")


@dataclass(frozen=True)
class SampleSettings:
    num_frames: int
    height: int
    width: int
    steps: int = 20
    cfg: float = 4.0
    chunk: int = 32  # samples per batched sampler call
    solver: str = "euler"  # alignment.flow_matching.SOLVERS
    shift: float | None = None  # the σ table's shift; None: the model's own sampling shift

    def __post_init__(self) -> None:
        from alignment.flow_matching import check_solver

        if min(self.num_frames, self.height, self.width, self.steps, self.chunk) < 1 or self.cfg < 1:
            raise ValueError(f"sample settings need positive sizes and cfg ≥ 1, got {self}")
        if self.shift is not None and self.shift <= 0:
            raise ValueError(f"sample settings need a positive shift, got {self.shift}")
        check_solver(self.solver)


@dataclass
class GateRate:
    rate: float  # share of samples with every check right
    ci_low: float
    ci_high: float
    per_check: dict[str, float]


@dataclass
class ArmResult:
    name: str
    table: dict[str, WinRate]
    gate: GateRate | None  # None: the judge checks no gate attributes
    mean_utilities: dict[str, float]


@dataclass
class EvalReport:
    prompts: list[str]
    seeds: list[int]
    base_gate: GateRate | None
    base_mean_utilities: dict[str, float]
    arms: list[ArmResult]
    wall_s: float
    cpu_s: float
    settings: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)  # which judge and its tie rule, as the caller describes it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gate_rate(judgements: Sequence[Judgement]) -> GateRate:
    ok = np.array([[j.checks.get(c, False) for c in GATE_CHECKS] for j in judgements], dtype=float)
    every = ok.all(axis=1).astype(float)
    n = len(every)
    mean = float(every.mean())
    half = Z_95 * math.sqrt(max(mean * (1 - mean), 0.0) / n) if n > 1 else 1.0
    return GateRate(mean, max(0.0, mean - half), min(1.0, mean + half),
                    {c: float(ok[:, i].mean()) for i, c in enumerate(GATE_CHECKS)})


def _gate(judgements: Sequence[Judgement]) -> GateRate | None:
    return gate_rate(judgements) if any(j.checks for j in judgements) else None


def compare(arm: Sequence[Judgement], base: Sequence[Judgement], dimensions: Sequence[str] = DIMENSIONS
            ) -> dict[str, WinRate]:
    """Win rates per dimension; a pair ties when its difference is within the measurement noise of the scores
    (the larger of the two, which for the pixel analyser is its one threshold per dimension)."""
    if len(arm) != len(base):
        raise ValueError(f"{len(arm)} arm samples but {len(base)} base samples")
    scores_a = {d: np.array([j.utilities[d] for j in arm]) for d in dimensions}
    scores_b = {d: np.array([j.utilities[d] for j in base]) for d in dimensions}
    margins = {d: np.array([max(a.noise[d], b.noise[d]) for a, b in zip(arm, base, strict=True)])
               for d in dimensions}
    return win_rate_table(scores_a, scores_b, margins)


def _mean_utilities(judgements: Sequence[Judgement]) -> dict[str, float]:
    return {d: float(np.mean([j.utilities[d] for j in judgements])) for d in DIMENSIONS}


def sample_frames(
    generator: Any,
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: SampleSettings,
    reward_grad_for: Callable[[list[str]], Any] | None = None,
) -> np.ndarray:
    """uint8 [N, F, H, W, 3] for the N (prompt, seed) items, sampled in chunks."""
    from alignment.sampling import decode_latents, generate_latents

    out = []
    for start in range(0, len(prompts), settings.chunk):
        ps, ss = list(prompts[start:start + settings.chunk]), list(seeds[start:start + settings.chunk])
        grad = reward_grad_for(ps) if reward_grad_for is not None else None
        latents = generate_latents(generator, ps, ss, settings.num_frames, settings.height, settings.width,
                                   num_steps=settings.steps, guidance_scale=settings.cfg, reward_grad=grad,
                                   solver=settings.solver, shift=settings.shift)
        out.append(decode_latents(generator, latents))
    return np.concatenate(out)


def arm_sampler(model_dir: Path, arm: Arm) -> tuple[Any, Callable[[list[str]], Any] | None]:
    """(generator, reward-gradient factory) that sample the way `arm` says."""
    from alignment.generator import load_generator

    generator = load_generator(model_dir)
    if arm.lora is not None:
        if not Path(arm.lora).is_dir():
            raise FileNotFoundError(f"arm {arm.name!r}: LoRA directory not found: {arm.lora}")
        generator.pipe.load_lora_weights(arm.lora)
    if arm.guidance is None:
        return generator, None
    from alignment.guidance import reward_gradient
    from alignment.latent_reward import LatentRewardModel, require_wan

    require_wan(generator.family.name)
    model = LatentRewardModel.load(arm.reward_model)
    weights, scale = arm.guidance, arm.guidance_scale

    def factory(prompts: list[str]) -> Any:
        return reward_gradient(model, generator.encode_prompts(prompts), weights, scale)

    return generator, factory


_ARM_NAME = re.compile(r"[A-Za-z0-9._-]+")
BASE_NAME = "pretrained"  # the base's row in the report and its side of every side-by-side


def check_arm_names(names: Sequence[str]) -> None:
    """Raise ValueError unless every arm name is a safe, unique file name other than the base's: names become
    directories and files under the output folder."""
    seen: set[str] = set()
    for name in names:
        if not _ARM_NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"arm name {name!r}: use only letters, digits, '.', '_' and '-' (and not '.' or '..')")
        if name == BASE_NAME:
            raise ValueError(f"arm name {name!r} is reserved for the base model")
        if name in seen:
            raise ValueError(f"arm name {name!r} is given twice")
        seen.add(name)


def evaluate(
    model_dir: str | Path,
    arms: Sequence[Arm],
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: SampleSettings,
    judge: Judge,
    out_dir: str | Path | None = None,
    grid_items: int = 8,
    side_by_side: int = 8,
    fps: int = 8,
    judge_info: dict[str, Any] | None = None,
) -> EvalReport:
    """Sample every prompt × seed with the base and each arm, judge, and (with `out_dir`) write the report, grids,
    and the first `side_by_side` pairs of every arm as side-by-side mp4s at `fps`."""
    from alignment.generator import load_generator

    if not arms:
        raise ValueError("evaluate needs at least one arm (a LoRA or guidance) to compare with the base")
    check_arm_names([arm.name for arm in arms])
    if not prompts or not seeds:
        raise ValueError("evaluate needs at least one prompt and one seed")
    wall0, cpu0 = time.monotonic(), time.process_time()
    items = [(p, s) for p in prompts for s in seeds]
    item_prompts, item_seeds = [p for p, _ in items], [s for _, s in items]
    base_frames = sample_frames(load_generator(model_dir), item_prompts, item_seeds, settings)
    base_j = [judge(f, p) for f, p in zip(base_frames, item_prompts, strict=True)]
    results, arm_frames = [], {}
    for arm in arms:
        generator, grad_for = arm_sampler(Path(model_dir), arm)
        with torch.no_grad():
            frames = sample_frames(generator, item_prompts, item_seeds, settings, grad_for)
        judged = [judge(f, p) for f, p in zip(frames, item_prompts, strict=True)]
        results.append(ArmResult(arm.name, compare(judged, base_j), _gate(judged), _mean_utilities(judged)))
        arm_frames[arm.name] = (frames, judged)
        logger.info("evaluated arm %s on %d samples", arm.name, len(items))
    report = EvalReport(
        prompts=list(prompts), seeds=list(seeds), base_gate=_gate(base_j),
        base_mean_utilities=_mean_utilities(base_j), arms=results, wall_s=time.monotonic() - wall0,
        cpu_s=time.process_time() - cpu0, settings=asdict(settings), judge=dict(judge_info or {}),
    )
    if out_dir is not None:
        write_report(report, Path(out_dir), base_frames, base_j, arm_frames, item_prompts, grid_items)
        write_pairs(Path(out_dir), base_frames, base_j, arm_frames, item_prompts, item_seeds, side_by_side, fps)
    return report


def _gate_cell(gate: GateRate | None) -> str:
    return "–" if gate is None else f"{100 * gate.rate:.1f}%"


def format_table(report: EvalReport) -> str:
    """Markdown in the paper's Table 4 layout: win rate vs the pretrained model per dimension, one row per arm."""
    lines = ["| method | " + " | ".join(f"{d} win rate [95% CI] (d_z)" for d in DIMENSIONS) + " | gate |",
             "|---" * (len(DIMENSIONS) + 2) + "|"]
    lines.append("| pretrained | " + " | ".join("50% (ref.)" for _ in DIMENSIONS)
                 + f" | {_gate_cell(report.base_gate)} |")
    for arm in report.arms:
        cells = [f"**{100 * arm.table[d].rate:.1f}%** [{100 * arm.table[d].ci_low:.1f}, "
                 f"{100 * arm.table[d].ci_high:.1f}] ({arm.table[d].effect_size:+.2f})" for d in DIMENSIONS]
        lines.append(f"| {arm.name} | " + " | ".join(cells) + f" | {_gate_cell(arm.gate)} |")
    lines += ["", "| method | " + " | ".join(f"{d} W/T/L" for d in DIMENSIONS) + " | mean utilities (VQ, MQ, TA) |",
              "|---" * (len(DIMENSIONS) + 2) + "|"]
    base_u = ", ".join(f"{report.base_mean_utilities[d]:.3f}" for d in DIMENSIONS)
    lines.append("| pretrained | " + " | ".join("–" for _ in DIMENSIONS) + f" | {base_u} |")
    for arm in report.arms:
        wtl = [f"{arm.table[d].wins}/{arm.table[d].ties}/{arm.table[d].losses}" for d in DIMENSIONS]
        lines.append(f"| {arm.name} | " + " | ".join(wtl) + " | "
                     + ", ".join(f"{arm.mean_utilities[d]:.3f}" for d in DIMENSIONS) + " |")
    return "\n".join(lines)


def write_grid(path: Path, rows: Sequence[Sequence[np.ndarray]], frame_ids: Sequence[int] = (0, 3, 5, 7),
               upscale: int = 3) -> Path:
    """A PNG: one row per item, and for each video of the row the frames `frame_ids` side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gap = 4
    tiles = []
    for videos in rows:
        row = []
        for v in videos:
            ids = [min(i, len(v) - 1) for i in frame_ids]
            row.append(np.concatenate([v[i] for i in ids], axis=1))
            row.append(np.full((v.shape[1], gap * 3, 3), 255, np.uint8))
        tiles.append(np.concatenate(row[:-1], axis=1))
        tiles.append(np.full((gap, tiles[-1].shape[1], 3), 255, np.uint8))
    canvas = np.concatenate(tiles[:-1], axis=0).repeat(upscale, axis=0).repeat(upscale, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, canvas)
    return path


def write_report(report: EvalReport, out_dir: Path, base_frames: np.ndarray, base_j: Sequence[Judgement],
                 arm_frames: dict[str, tuple[np.ndarray, list[Judgement]]], item_prompts: Sequence[str],
                 grid_items: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
    # the first item of the first `grid_items` prompts: one seed per prompt shows the most variety
    step = max(1, len(report.seeds))
    picks = list(range(0, len(item_prompts), step))[:grid_items]
    lines = [f"# Evaluation: {len(item_prompts)} prompt×seed pairs ({len(report.prompts)} prompts × "
             f"{len(report.seeds)} seeds)", "", format_table(report), "",
             f"Wall {report.wall_s:.0f} s, CPU {report.cpu_s:.0f} s. Sampling: {report.settings}.",
             *([f"Judge: {report.judge}.", ""] if report.judge else [""]),
             "Every pair's per-side scores: `pairs.jsonl`; side-by-side videos (when asked for): `side_by_side/index.md`.",
             ""]
    for name, (frames, judged) in arm_frames.items():
        grid = write_grid(out_dir / f"grid_{name}.png", [[base_frames[i], frames[i]] for i in picks])
        lines.append(f"## {name}: `{grid.name}` (left: pretrained, right: {name}; frames 0, 3, 5, 7)")
        lines.append("")
        for r, i in enumerate(picks):
            b, a = base_j[i], judged[i]
            lines.append(f"{r + 1}. {item_prompts[i]} — VQ/MQ/TA base " + "/".join(
                f"{b.utilities[d]:.2f}" for d in DIMENSIONS) + ", arm " + "/".join(
                f"{a.utilities[d]:.2f}" for d in DIMENSIONS))
        lines.append("")
    (out_dir / "report.md").write_text("\n".join(lines))


def write_pairs(out_dir: Path, base_frames: np.ndarray, base_j: Sequence[Judgement],
                arm_frames: dict[str, tuple[np.ndarray, list[Judgement]]], item_prompts: Sequence[str],
                item_seeds: Sequence[int], side_by_side: int, fps: int) -> None:
    """pairs.jsonl (one line per arm × prompt × seed: both sides' scores and scored files, so the win rates can be
    recounted) and the side-by-side videos with their index."""
    from alignment.side_by_side import write_index, write_side_by_side

    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    with (out_dir / "pairs.jsonl").open("w") as fh:
        for name, (frames, judged) in arm_frames.items():
            for prompt, seed, b, a in zip(item_prompts, item_seeds, base_j, judged, strict=True):
                fh.write(json.dumps({"arm": name, "prompt": prompt, "seed": seed,
                                     "pretrained": {"scores": b.utilities, "video": b.video},
                                     "aligned": {"scores": a.utilities, "video": a.video}}) + "\n")
            if side_by_side > 0:
                entries += write_side_by_side(out_dir / "side_by_side", name, base_frames, base_j, frames, judged,
                                              item_prompts, item_seeds, side_by_side, fps)
    if entries:
        write_index(out_dir / "side_by_side", entries)
