"""The ablation report on the synthetic world (``python -m rewards report --out DIR``): the paper's Table 3,
Fig. 3 and the Fig. 4 question, rebuilt with the oracle ceiling beside them and 95% bootstrap intervals.

Every model is trained by the same code as ``python -m rewards train`` (``rewards.learning``) from the
pretrained tiny base on the cached synthetic world, and measured on the same held-out test pairs, so every
comparison is paired: a difference between two methods is resampled on the same pairs, and a finding is
stated only when its interval excludes zero.

- Table 3: regression, BT and BTT with one shared reward token, and BTT with separate tokens, trained on all
  training judgements; accuracy with ties (tie calibration, ε re-tuned in each resample) and without ties.
- Fig. 3: regression, BT and BTT trained on nested fractions of the training judgements.
- Fig. 4: how well |Δr| tells human-tied pairs from decided ones (AUC; 0.5 = not at all), BT vs BTT.

Writes ``report.md``, ``results.json`` and the PNGs into the output folder; trained models go to a work
folder (default ``OUT/runs``); decoded clips to ``VIDPREF_VAR/rewards/clip_cache`` (shared with
``benchmarks/rewards_learning.py``).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewards.config import DIMENSIONS, ConfigError
from rewards.learning import RunFigures, reward_recipe, subset_csv, train_and_test, with_epochs
from rewards.metrics import accuracy_with_ties, accuracy_without_ties, tie_separation_auc
from rewards.pretrain_base import PretrainConfig, ensure_pretrained_base, read_info, var_root
from rewards.report_plots import fraction_plot, table3_plot, tie_margin_plot
from rewards.synthetic_world import SplitTruth, WorldConfig, compare_to_oracle, ensure_world, split_truth

logger = logging.getLogger(__name__)

DIMS: tuple[str, ...] = (*DIMENSIONS, "Overall")
# The paper's Table 3 rows: the first three read one shared token (which must see the prompt).
METHODS: dict[str, dict[str, str]] = {
    "Regression": {"loss": "regression", "token_mode": "shared"},
    "BT": {"loss": "bt", "token_mode": "shared"},
    "BTT": {"loss": "btt", "token_mode": "shared"},
    "BTT + separate tokens": {"loss": "btt", "token_mode": "separate"},
}
FRACTION_METHODS: tuple[str, ...] = ("Regression", "BT", "BTT")
# The paper's figures (REFERENCE §3), quoted beside ours.
PAPER_TABLE3 = {"Regression": (58.39, 70.16), "BT": (61.22, 72.58), "BTT": (61.50, 73.39),
                "BTT + separate tokens": (61.26, 73.59)}


@dataclass(frozen=True)
class ReportConfig:
    """Budget of the report: one epoch at full data; the small fractions get more passes (each still sees
    fewer pairs than one full-data epoch)."""

    fractions: tuple[float, ...] = (0.1, 0.3, 1.0)
    epochs: int = 1
    small_data_epochs: int = 3
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fractions", tuple(sorted(float(f) for f in self.fractions)))
        if not self.fractions or self.fractions[-1] != 1.0 or self.fractions[0] <= 0:
            raise ConfigError(f"report fractions must be in (0, 1] and include 1.0, got {self.fractions}")
        if self.epochs < 1 or self.small_data_epochs < 1 or self.n_boot < 100:
            raise ConfigError("report epochs must be >= 1 and n_boot >= 100")

    def epochs_for(self, fraction: float) -> int:
        return self.epochs if fraction == 1.0 else self.small_data_epochs


def paired_difference(stat: Callable[[np.ndarray, np.ndarray], float], first: np.ndarray, second: np.ndarray,
                      labels: np.ndarray, n_boot: int, seed: int = 0) -> dict[str, Any]:
    """stat(first) − stat(second) on the same pairs, with a 95% percentile interval (pairs resampled)."""
    keep = ~np.isnan(labels)
    a, b, h = np.asarray(first)[keep], np.asarray(second)[keep], labels[keep]
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, h.size, h.size)
        diffs[i] = stat(a[idx], h[idx]) - stat(b[idx], h[idx])
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0:  # e.g. an AUC on a split without human ties
        return {"difference": float("nan"), "ci95": (float("nan"), float("nan"))}
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return {"difference": stat(a, h) - stat(b, h), "ci95": (float(lo), float(hi))}


def _with_ties(m: np.ndarray, h: np.ndarray) -> float:
    return accuracy_with_ties(m, h).accuracy


STATS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "without_ties": accuracy_without_ties, "with_ties": _with_ties, "tie_auc": tie_separation_auc}


def verdict(diff: Mapping[str, Any], claim: str, opposite: str) -> str:
    lo, hi = diff["ci95"]
    if np.isnan(lo) or np.isnan(diff["difference"]):
        return f"{claim}: not measurable on these pairs"
    span = f"{100 * diff['difference']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    if lo > 0:
        return f"{claim}: {span} — holds here"
    if hi < 0:
        return f"{claim}: {span} — the opposite holds here ({opposite})"
    return f"{claim}: {span} — not shown (the interval includes 0)"


@dataclass
class ReportResult:
    out_dir: Path
    files: list[Path]
    runs: dict[str, dict[str, Any]]
    findings: list[str]
    wall_s: float
    cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def run_report(out_dir: str | Path, cfg: ReportConfig | None = None, *, base_dir: str | Path | None = None,
               world_dir: str | Path | None = None, work_dir: str | Path | None = None,
               pretrain: PretrainConfig | None = None, world: WorldConfig | None = None) -> ReportResult:
    cfg = cfg or ReportConfig()
    start, cpu = time.perf_counter(), time.process_time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir) if work_dir is not None else out_dir / "runs"
    base = Path(base_dir) if base_dir is not None else ensure_pretrained_base(pretrain)
    world_path = Path(world_dir) if world_dir is not None else ensure_world(world or WorldConfig())
    truth = split_truth(world_path, "test")
    cache = var_root() / "rewards" / "clip_cache"  # shared with the learning benchmark: decoded once

    runs: dict[tuple[str, float], RunFigures] = {}
    for fraction in reversed(cfg.fractions):  # full data first: Table 3 is the part most worth having
        names = list(METHODS) if fraction == 1.0 else list(FRACTION_METHODS)
        train_csv = world_path / "train_mos.csv"
        if fraction < 1.0:
            train_csv = subset_csv(train_csv, work / f"train_{fraction:g}.csv", fraction, cfg.seed)
        for name in names:
            config = with_epochs(reward_recipe(base, seed=cfg.seed, **METHODS[name]), cfg.epochs_for(fraction))
            slug = name.lower().replace(" + ", "_").replace(" ", "_")
            runs[(name, fraction)] = train_and_test(f"{name} @ {fraction:g}", world_path, config,
                                                    work / f"{slug}_{fraction:g}", train_csv=train_csv,
                                                    cache_dir=cache, truth=truth, n_boot=cfg.n_boot)

    oracle = compare_to_oracle({d: truth.oracle_margins[d] for d in DIMS}, truth, n_boot=cfg.n_boot,
                               dimensions=DIMS)
    findings, extra = _findings(runs, truth, cfg)
    files = _write(out_dir, cfg, runs, oracle, findings, extra, base, world_path,
                   time.perf_counter() - start, time.process_time() - cpu)
    return ReportResult(out_dir=out_dir, files=files,
                        runs={f"{k[0]} @ {k[1]:g}": v.summary() for k, v in runs.items()}, findings=findings,
                        wall_s=time.perf_counter() - start, cpu_s=time.process_time() - cpu, extra=extra)


def _findings(runs: Mapping[tuple[str, float], RunFigures], truth: SplitTruth,
              cfg: ReportConfig) -> tuple[list[str], dict[str, Any]]:
    """The paper's claims, each tested as a paired difference on the test pairs (Overall and per dimension)."""
    full = {name: runs[(name, 1.0)] for name in METHODS}
    lines, extra = [], {"differences": {}}

    def diff(stat: str, a: RunFigures, b: RunFigures, d: str) -> dict[str, Any]:
        result = paired_difference(STATS[stat], a.margins[d], b.margins[d], truth.labels[d], cfg.n_boot, cfg.seed)
        extra["differences"][f"{stat}: {a.name} − {b.name} [{d}]"] = result
        return result

    for d in DIMS:
        lines.append(f"**{d}**")
        lines.append("- " + verdict(diff("without_ties", full["BT"], full["Regression"], d),
                                    "BT beats regression without ties (full data)", "regression beats BT"))
        lines.append("- " + verdict(diff("with_ties", full["BTT"], full["BT"], d),
                                    "BTT beats BT with ties (paper: +0.3 points)", "BT beats BTT with ties"))
        lines.append("- " + verdict(diff("without_ties", full["BTT + separate tokens"], full["BTT"], d),
                                    "separate tokens beat one shared token without ties",
                                    "one shared token beats separate tokens"))
        smallest = min(cfg.fractions)
        if smallest < 1.0:
            small_bt, small_reg = runs[("BT", smallest)], runs[("Regression", smallest)]
            lines.append("- " + verdict(diff("without_ties", small_bt, small_reg, d),
                                        f"BT beats regression at {smallest:g} of the data", "regression beats BT"))
            # Fig. 3's claim: the BT-over-regression gain is larger with scarce data.
            lines.append("- " + verdict(_gain_shrinks(small_bt, small_reg, full["BT"], full["Regression"], truth, d,
                                                      cfg, extra),
                                        f"BT's gain over regression is larger at {smallest:g} than at full data",
                                        "BT's gain over regression is larger at full data"))
        lines.append("- " + verdict(diff("tie_auc", full["BTT"], full["BT"], d),
                                    "BTT separates tied from decided pairs in |Δr| better than BT (AUC)",
                                    "BT separates them better than BTT"))
    return lines, extra


def _gain_shrinks(small_a: RunFigures, small_b: RunFigures, full_a: RunFigures, full_b: RunFigures,
                  truth: SplitTruth, d: str, cfg: ReportConfig, extra: dict[str, Any]) -> dict[str, Any]:
    """(acc(small_a) − acc(small_b)) − (acc(full_a) − acc(full_b)) without ties, all four on the same pairs."""
    h = truth.labels[d]
    keep = ~np.isnan(h)
    arrays = [np.asarray(r.margins[d])[keep] for r in (small_a, small_b, full_a, full_b)]
    h = h[keep]
    rng = np.random.default_rng(cfg.seed)

    def value(idx: np.ndarray) -> float:
        acc = [accuracy_without_ties(m[idx], h[idx]) for m in arrays]
        return (acc[0] - acc[1]) - (acc[2] - acc[3])

    point = value(np.arange(h.size))
    boots = np.array([value(rng.integers(0, h.size, h.size)) for _ in range(cfg.n_boot)])
    lo, hi = np.quantile(boots, [0.025, 0.975])
    result = {"difference": point, "ci95": (float(lo), float(hi))}
    extra["differences"][f"gain of BT over regression, small − full [{d}]"] = result
    return result


def _fmt(value: float, ci: tuple[float, float]) -> str:
    return f"{100 * value:.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _write(out_dir: Path, cfg: ReportConfig, runs: Mapping[tuple[str, float], RunFigures], oracle: dict,
           findings: list[str], extra: dict[str, Any], base: Path, world: Path, wall: float, cpu: float) -> list[Path]:
    full = {name: runs[(name, 1.0)].comparison for name in METHODS}
    files = [table3_plot(full, oracle, out_dir / "table3.png")]
    curves = {name: {f: runs[(name, f)].comparison for f in cfg.fractions} for name in FRACTION_METHODS}
    files.append(fraction_plot(curves, oracle, "without_ties", out_dir / "fig3_fraction_without_ties.png"))
    files.append(fraction_plot(curves, oracle, "with_ties", out_dir / "fig3_fraction_with_ties.png"))
    truth_labels = split_truth(world, "test").labels["Overall"]
    aucs = {n: runs[(n, 1.0)].tie_auc["Overall"] for n in ("BT", "BTT")}
    files.append(tie_margin_plot({n: runs[(n, 1.0)].margins["Overall"] for n in ("BT", "BTT")}, truth_labels, aucs,
                                 out_dir / "fig4_tie_margins.png"))

    n_test = oracle["VQ"]["n"]
    lines = [
        "# Reward-model ablations on the synthetic world",
        "",
        f"Generated by `python -m rewards report` in {wall / 60:.1f} min wall, {cpu / 60:.1f} min process CPU "
        f"(2 torch threads; finished runs are reused, so this counts only the runs trained by this invocation "
        f"plus scoring and bootstrap); training all {len(runs)} runs took "
        f"{sum(r.train_wall_s for r in runs.values()) / 60:.1f} min wall, "
        f"{sum(r.train_cpu_s for r in runs.values()) / 60:.1f} min process CPU (table at the end). Base: `{base}` ({_base_line(base)}). World: `{world}` "
        f"({_world_line(world)}). Test split: {n_test} pairs, never trained on. Every model: the recipe of "
        f"`rewards.learning.reward_recipe` (vision tower frozen; LoRA, merger, reward tokens and head trained), "
        f"{cfg.epochs} epoch(s) at full data, {cfg.small_data_epochs} at smaller fractions. "
        "Intervals: 95% percentile bootstrap over test pairs "
        f"({cfg.n_boot} resamples; with ties, ε is re-tuned in every resample).",
        "",
        "## Table 3: loss and token layout (accuracy %, 95% CI)",
        "",
        "| Method | " + " | ".join(f"{d} w/ ties | {d} w/o ties" for d in DIMS) + " | paper overall w/ / w/o |",
        "|---|" + "---|---|" * len(DIMS) + "---|",
    ]
    for name, comp in full.items():
        cells = [f"{_fmt(comp[d]['model_with_ties'], comp[d]['model_with_ties_ci95'])} | "
                 f"{_fmt(comp[d]['model_without_ties'], comp[d]['model_without_ties_ci95'])}" for d in DIMS]
        paper = PAPER_TABLE3[name]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {paper[0]:.2f} / {paper[1]:.2f} |")
    cells = [f"{_fmt(oracle[d]['oracle_with_ties'], oracle[d]['oracle_with_ties_ci95'])} | "
             f"{_fmt(oracle[d]['oracle_without_ties'], oracle[d]['oracle_without_ties_ci95'])}" for d in DIMS]
    lines += ["| Oracle (true utilities) | " + " | ".join(cells) + " | — |", "", "![Table 3](table3.png)", "",
              "## Fig. 3: accuracy vs fraction of training judgements (without ties %, 95% CI)", "",
              "| Method | fraction | pairs | " + " | ".join(DIMS) + " |", "|---|---|---|" + "---|" * len(DIMS)]
    for name in FRACTION_METHODS:
        for f in cfg.fractions:
            run = runs[(name, f)]
            lines.append(f"| {name} | {f:g} | {run.train_pairs} | " + " | ".join(
                _fmt(run.comparison[d]["model_without_ties"], run.comparison[d]["model_without_ties_ci95"])
                for d in DIMS) + " |")
    lines += ["", "![Fig. 3 without ties](fig3_fraction_without_ties.png)",
              "![Fig. 3 with ties](fig3_fraction_with_ties.png)", "",
              "## Fig. 4: does |Δr| separate tied from decided pairs? (AUC, 0.5 = no)", "",
              "| Model | " + " | ".join(DIMS) + " |", "|---|" + "---|" * len(DIMS)]
    for name in METHODS:
        lines.append(f"| {name} | " + " | ".join(f"{runs[(name, 1.0)].tie_auc[d]:.3f}" for d in DIMS) + " |")
    lines.append("| Oracle (true utilities) | " + " | ".join(
        f"{tie_separation_auc(split_truth(world, 'test').oracle_margins[d], split_truth(world, 'test').labels[d]):.3f}"
        for d in DIMS) + " |")
    lines += ["", "![Fig. 4](fig4_tie_margins.png)", "",
              "## Where the paper's findings hold here (paired 95% intervals on the test pairs)", "", *findings,
              "", "## Runs", "", "| Run | pairs | steps | train wall s | train CPU s |", "|---|---|---|---|---|"]
    for run in runs.values():
        lines.append(f"| {run.name} | {run.train_pairs} | {run.steps} | {run.train_wall_s:.0f} | {run.train_cpu_s:.0f} |")
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps({
        "config": asdict(cfg), "base": str(base), "world": str(world), "wall_s": wall, "cpu_s": cpu,
        "oracle": oracle, "runs": {f"{k[0]} @ {k[1]:g}": v.summary() for k, v in runs.items()},
        "findings": findings, **extra}, indent=2, default=float), encoding="utf-8")
    return [*files, out_dir / "report.md", out_dir / "results.json"]


def _base_line(base: Path) -> str:
    try:
        info = read_info(base)
    except FileNotFoundError:
        return "not a pretrained tiny base"
    recipe, result = info["recipe"], info["result"]
    return (f"tiny Qwen2-VL, hidden {recipe['hidden_size']}, {recipe['num_layers']} layers, captioner pretrained "
            f"{result['steps']} steps on {recipe['n_clips'] - recipe['held_out']} clips")


def _world_line(world: Path) -> str:
    info = json.loads((world / "world.json").read_text())
    c = info["config"]
    return (f"{c['n_prompts']} prompts × {len(c['generators'])} generators, {info['comparisons']} comparisons, "
            f"annotators {', '.join(c['annotators'])}")
