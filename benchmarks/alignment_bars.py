"""The issue's Bars for alignment in the synthetic world, each as a recipe that prints its figures (JSON lines).

  .venv/bin/python benchmarks/alignment_bars.py base       # pretrain-base if missing, then the quality gate
  .venv/bin/python benchmarks/alignment_bars.py base --prompt-set train --prompts 50 --seeds 2 --solver heun
      # the gate on training prompts: where sampling settings are chosen (never on the held-out prompts)
  .venv/bin/python benchmarks/alignment_bars.py sweep --prompts 50 --seeds 2
      # integrator, CFG, shift chosen one at a time on training prompts, the choice measured once on held-out ones
  .venv/bin/python benchmarks/alignment_bars.py dpo        # on-policy annotator pairs → Flow-DPO naive vs guarded
  .venv/bin/python benchmarks/alignment_bars.py guidance   # latent reward (noisy vs clean) → guided sampling

Artefacts are cached under var/alignment/ (the base model, the rendered clips, sampled pair sets) and rebuilt when
missing. Every measured stage reports wall and process CPU time. Waits while /work/main/.quiet exists (the lead
measuring other benchmarks on the shared machine).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alignment.evaluate import Arm, SampleSettings, evaluate, format_table, gate_rate  # noqa: E402
from alignment.flow_matching import SOLVERS  # noqa: E402
from alignment.world.clips import heldout_prompts, model_grammar, train_prompts  # noqa: E402

VAR = ROOT / "var" / "alignment"
# pretrain-base's recipe (2026-11-22): the restricted "simple" grammar, word-embedding conditioning, σ ~ U(0, 1),
# faithful-heavy profiles (3 of 7 clean); see docs/alignment/report.md for what it reaches and what limits it
BASE_RECIPE = {
    "steps": 5000, "batch_size": 24, "learning_rate": 0.0015, "text_layers": 0, "sigma_sampling": "uniform",
    "train_shift": 3.0, "sampling_shift": 3.0, "max_sequence_length": 16, "codec": "frame_autoencoder",
    "autoencoder": {"steps": 2500, "width": 32, "latent_channels": 8, "levels": 2},
    "clips": {"n_clips": 8000, "grammar": "simple",
              "profiles": ["atlas-pro", "atlas-pro", "atlas-pro", "soft-focus", "grainy-faithful", "washed-out",
                           "crisp-jitter"]},
}
QUIET = ROOT / ".quiet"
logger = logging.getLogger("alignment_bars")


def wait_quiet() -> None:
    while QUIET.exists():
        time.sleep(30)


class Timer:
    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.monotonic(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.monotonic() - self.wall0, time.process_time() - self.cpu0


def emit(name: str, **figures: object) -> None:
    print(json.dumps({"bar": name, **figures}, default=str), flush=True)


def ensure_base(model: Path, threads: int) -> dict:
    """The pretrained base (pretrain-base's recipe) at `model`, trained when missing."""
    if (model / "model_index.json").is_file():
        return json.loads((model / "pretrain.json").read_text()) if (model / "pretrain.json").is_file() else {}
    from alignment.cli import main

    wait_quiet()
    config = VAR / "pretrain_base.json"
    config.write_text(json.dumps({**BASE_RECIPE, "threads": threads}))
    code = main(["-v", "pretrain-base", "--out", str(model), "--config", str(config), "--cpu-budget", "2700",
                 "--cache-dir", str(VAR), "--pause-file", str(QUIET)])
    if code:
        raise SystemExit(code)
    return json.loads((model / "pretrain.json").read_text())


def settings_for(model: Path, args: argparse.Namespace, chunk: int = 40) -> SampleSettings:
    clip = json.loads((model / "generator.json").read_text())["clip"]
    return SampleSettings(clip["num_frames"], clip["height"], clip["width"], steps=args.steps, cfg=args.cfg,
                          chunk=chunk, solver=args.solver, shift=args.shift)


def sampler_tag(args: argparse.Namespace) -> str:
    """The sampling settings in a cache file name (the Euler / model-shift default keeps the earlier names)."""
    tag = f"s{args.steps}-c{args.cfg}"
    if args.solver != "euler":
        tag += f"-{args.solver}"
    return tag + (f"-shift{args.shift}" if args.shift is not None else "")


def gate_prompts(args: argparse.Namespace) -> list[str]:
    """The gate's prompts: held-out ones (the bar), or training ones (to choose sampling settings honestly)."""
    grammar = model_grammar(args.model)
    if args.prompt_set == "heldout":
        return heldout_prompts(args.prompts, grammar=grammar)
    drawn = list(dict.fromkeys(train_prompts(args.prompts * 4, seed=args.train_prompt_seed, grammar=grammar)))
    if len(drawn) < args.prompts:
        raise SystemExit(f"only {len(drawn)} distinct training prompts drawn, {args.prompts} asked")
    return drawn[: args.prompts]


def bar_base(args: argparse.Namespace) -> None:
    from alignment.generator import load_generator
    from alignment.world.judge import analyse, judgement_from_analysis
    from alignment.world.onpolicy import sample_set

    meta = ensure_base(args.model, args.threads)
    emit("base/pretrain", steps=meta.get("steps"), parameters=meta.get("parameters"),
         wall_s=meta.get("wall_s"), cpu_s=meta.get("cpu_s"))
    wait_quiet()
    prompts = gate_prompts(args)
    seeds = list(range(args.seeds))
    settings = settings_for(args.model, args)
    with Timer() as t:
        samples = sample_set(load_generator(args.model), prompts, seeds, settings, analyse)
    gate = gate_rate([judgement_from_analysis(a) for a in samples.analyses])
    emit("base/gate", prompt_set=args.prompt_set, prompts=len(prompts), samples=len(samples.prompts),
         steps=settings.steps, cfg=settings.cfg, solver=settings.solver, shift=settings.shift, gate=gate.rate,
         ci=[gate.ci_low, gate.ci_high], per_check=gate.per_check, wall_s=round(t.wall, 1), cpu_s=round(t.cpu, 1))
    if args.grid:
        from alignment.evaluate import write_grid

        picks = range(0, len(samples.prompts), len(seeds))
        write_grid(args.grid, [[samples.frames[i]] for i in list(picks)[:12]])


def _solver_evals(solver: str, steps: int) -> int:
    """Network evaluations (each a CFG pair) of one sample: Heun's last step to σ = 0 is an Euler step."""
    return {"euler": steps, "heun": 2 * steps - 1, "midpoint": 2 * steps}[solver]


def bar_sweep(args: argparse.Namespace) -> None:
    """Sampling settings chosen on training prompts, one factor at a time, then measured once on held-out prompts.

    Stage 1: the integrator (solver:steps pairs) at --cfg; stage 2: CFG scales at stage 1's choice; stage 3: σ-table
    shifts at stage 2's. Each stage keeps the higher training-prompt gate, the cheaper setting on a tie.
    """
    from alignment.generator import load_generator
    from alignment.world.judge import analyse, judgement_from_analysis
    from alignment.world.onpolicy import sample_set

    ensure_base(args.model, args.threads)
    wait_quiet()
    generator = load_generator(args.model)
    train = gate_prompts(argparse.Namespace(**{**vars(args), "prompt_set": "train"}))
    seeds = list(range(args.seeds))
    measured: dict[tuple, float] = {}

    def gate_of(setting: dict, prompts: list[str], seeds: list[int], name: str) -> float:
        settings = settings_for(args.model, argparse.Namespace(**{**vars(args), **setting}))
        with Timer() as t:
            samples = sample_set(generator, prompts, seeds, settings, analyse)
        gate = gate_rate([judgement_from_analysis(a) for a in samples.analyses])
        emit(name, samples=len(samples.prompts), **setting, evals=_solver_evals(setting["solver"], setting["steps"]),
             gate=gate.rate, ci=[gate.ci_low, gate.ci_high], per_check=gate.per_check, wall_s=round(t.wall, 1),
             cpu_s=round(t.cpu, 1))
        return gate.rate

    def stage(candidates: list[dict]) -> dict:
        for c in candidates:
            key = tuple(sorted(c.items()))
            if key not in measured:
                measured[key] = gate_of(c, train, seeds, "sweep/train")
        return max(candidates, key=lambda c: (measured[tuple(sorted(c.items()))],
                                             -_solver_evals(c["solver"], c["steps"])))

    integrators = [dict(solver=s, steps=int(n)) for s, n in (x.split(":") for x in args.sweep_integrators.split(","))]
    best = stage([{**i, "cfg": args.cfg, "shift": args.shift} for i in integrators])
    best = stage([best] + [{**best, "cfg": float(c)} for c in args.sweep_cfg.split(",")])
    best = stage([best] + [{**best, "shift": float(x)} for x in args.sweep_shift.split(",")])
    emit("sweep/chosen", **best, train_gate=measured[tuple(sorted(best.items()))])
    heldout = heldout_prompts(args.heldout_prompts, grammar=model_grammar(args.model))
    gate_of(best, heldout, list(range(args.heldout_seeds)), "sweep/heldout")


def _sampled_train_set(model: Path, args: argparse.Namespace):
    """On-policy samples of training prompts, analysed; cached (the expensive part of making pairs)."""
    from alignment.generator import load_generator
    from alignment.world.judge import analyse
    from alignment.world.onpolicy import sample_set

    path = VAR / f"onpolicy-{model.name}-{args.pair_prompts}x{args.pair_seeds}-{sampler_tag(args)}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes()), None
    grammar = model_grammar(model)
    prompts = list(dict.fromkeys(train_prompts(args.pair_prompts * 2, seed=11, grammar=grammar)))[: args.pair_prompts]
    with Timer() as t:
        samples = sample_set(load_generator(model), prompts, list(range(100, 100 + args.pair_seeds)),
                             settings_for(model, args), analyse)
    path.write_bytes(pickle.dumps(samples))
    return samples, t


def bar_dpo(args: argparse.Namespace) -> None:
    from alignment.config import TrainConfig
    from alignment.generator import load_generator
    from alignment.train import train
    from alignment.world.judge import pixel_judge
    from alignment.world.onpolicy import annotate, pair_data, preference_pairs, split_pairs_by_prompt

    ensure_base(args.model, args.threads)
    wait_quiet()
    total_wall0, total_cpu0 = time.monotonic(), time.process_time()
    samples, t = _sampled_train_set(args.model, args)
    if t is not None:
        emit("dpo/sample", samples=len(samples.prompts), wall_s=round(t.wall, 1), cpu_s=round(t.cpu, 1))
    comparisons = annotate(samples, args.annotator, seed=0)
    weights = {args.target: 1.0}
    # "milder losers": drop pairs whose loser is among the worst `loser_quantile` of the samples in any dimension
    floor = {d: float(np.quantile([a.utilities[d] for a in samples.analyses], args.loser_quantile))
             for d in args.floor_dims.split(",")}
    emit("dpo/pairs", comparisons=len(comparisons), loser_floor=floor)
    runs = {
        "naive": dict(pairs=preference_pairs(comparisons, weights), sft_weight=0.0, patience=0,
                      steps=args.naive_steps, beta_schedule=args.naive_beta_schedule),
        "guarded": dict(pairs=preference_pairs(comparisons, weights, samples, loser_floor=floor),
                        sft_weight=args.sft_weight, patience=args.patience, steps=args.dpo_steps,
                        beta_schedule="constant"),
    }
    arms = []
    for name, run in runs.items():
        if name not in args.runs:
            continue
        train_pairs, held_pairs = split_pairs_by_prompt(run["pairs"], samples, 0.2)
        generator = load_generator(args.model)
        data, held = pair_data(generator, samples, train_pairs), pair_data(generator, samples, held_pairs)
        config = TrainConfig(
            method="flow-dpo", beta=args.beta, beta_schedule=run["beta_schedule"], sft_weight=run["sft_weight"],
            lora={"rank": args.rank, "alpha": args.rank, "targets": ["to_q", "to_k", "to_v", "to_out.0", "proj_out"]},
            learning_rate=args.lr, batch_size=args.batch, max_steps=run["steps"], seed=0,
            eval_every=args.eval_every, early_stopping_patience=run["patience"], heldout_draws=args.heldout_draws,
            progress_bar=False,
        )
        out = VAR / f"dpo-{name}"
        with Timer() as t:
            result = train(config, data, generator, out, heldout=held)
        lora = result.best_lora_dir if (name == "guarded" and result.best_lora_dir) else result.lora_dir
        best = max(result.history, key=lambda h: h.get("heldout_implicit_accuracy", -1))
        final = result.history[-1]
        emit(f"dpo/train-{name}", pairs=len(train_pairs), heldout_pairs=len(held_pairs), steps=result.steps,
             lora=str(lora), best_heldout_implicit_accuracy=result.best_heldout_accuracy,
             best_step=best.get("step"), final_heldout_implicit_accuracy=final.get("heldout_implicit_accuracy"),
             final_train_implicit_accuracy=final.get("implicit_accuracy"), wall_s=round(t.wall, 1),
             cpu_s=round(t.cpu, 1))
        arms.append(Arm(f"flow-dpo-{name}", lora=lora))
    wait_quiet()
    prompts = heldout_prompts(args.prompts, grammar=model_grammar(args.model))
    report = evaluate(args.model, arms, prompts, list(range(args.seeds)),
                      settings_for(args.model, args), pixel_judge, VAR / "eval-dpo")
    _emit_report("dpo/eval", report)
    emit("dpo/total", wall_s=round(time.monotonic() - total_wall0, 1),
         cpu_s=round(time.process_time() - total_cpu0, 1))


def _emit_report(name: str, report) -> None:
    emit(name, pairs=len(report.prompts) * len(report.seeds), base_gate=report.base_gate.rate,
         base_gate_ci=[report.base_gate.ci_low, report.base_gate.ci_high],
         arms={a.name: {"gate": a.gate.rate, "gate_ci": [a.gate.ci_low, a.gate.ci_high], **{
             d: {"rate": w.rate, "ci": [w.ci_low, w.ci_high], "wtl": [w.wins, w.ties, w.losses],
                 "d_z": w.effect_size} for d, w in a.table.items()}} for a in report.arms},
         wall_s=round(report.wall_s, 1), cpu_s=round(report.cpu_s, 1))
    print(format_table(report), flush=True)


def bar_guidance(args: argparse.Namespace) -> None:
    from alignment.dataset import ComparisonData
    from alignment.generator import load_generator
    from alignment.latent_reward import LatentRewardConfig, train_latent_reward
    from alignment.world.judge import pixel_judge
    from alignment.world.onpolicy import LABEL_SIGN, annotate

    ensure_base(args.model, args.threads)
    wait_quiet()
    samples, _ = _sampled_train_set(args.model, args)
    comparisons = annotate(samples, args.annotator, seed=1)
    generator = load_generator(args.model)
    prompts = sorted(set(samples.prompts))
    index = {p: i for i, p in enumerate(prompts)}
    dims = ("VQ", "MQ", "TA")
    data = ComparisonData(
        latents=samples.latents, embeds=generator.encode_prompts(prompts),
        rows=torch.tensor([[c.a, c.b, index[samples.prompts[c.a]]] for c in comparisons]),
        labels=torch.tensor([[float(LABEL_SIGN[c.labels[d]]) for d in dims] for c in comparisons]),
        dimensions=dims,
    )
    arms = []
    for noisy in (True, False):
        name = "noisy" if noisy else "clean"
        config = LatentRewardConfig(num_blocks=args.rm_blocks, noisy=noisy, max_steps=args.rm_steps,
                                    batch_size=16, progress_bar=False)
        with Timer() as t:
            result = train_latent_reward(generator.transformer, data, config, VAR / f"latent-reward-{name}")
        tail = result.history[-50:]
        scale = args.guidance_scale or _scale_for_rms(result.model, data, args.target, args.guidance_rms)
        emit(f"guidance/train-{name}", comparisons=len(data), steps=config.max_steps,
             final_accuracy=sum(h["accuracy_without_ties"] for h in tail) / len(tail), guidance_scale=scale,
             wall_s=round(t.wall, 1), cpu_s=round(t.cpu, 1))
        arms.append(Arm(f"guided-{name}", reward_model=VAR / f"latent-reward-{name}",
                        guidance={args.target: 1.0}, guidance_scale=scale))
    wait_quiet()
    prompts = heldout_prompts(args.prompts, grammar=model_grammar(args.model))
    report = evaluate(args.model, arms, prompts, list(range(args.seeds)),
                      settings_for(args.model, args), pixel_judge, VAR / "eval-guidance")
    _emit_report("guidance/eval", report)


def _scale_for_rms(model, data, target: str, rms: float) -> float:
    """λ such that λ·∇R has RMS `rms` per latent element on training latents at σ = 0.5: over a whole Euler
    trajectory (Σ(σ − σ_next) = 1) guidance then moves each element by about `rms` — the same strength for
    reward models whose output scales differ (the noisy and the clean one)."""
    from alignment.flow_matching import add_noise
    from alignment.guidance import reward_gradient

    batch = data.batch(torch.arange(min(16, len(data))))
    sigma = torch.full((len(batch["latents_a"]),), 0.5)
    x = add_noise(batch["latents_a"], torch.randn(batch["latents_a"].shape, generator=torch.Generator().manual_seed(0)),
                  sigma)
    grad = reward_gradient(model, batch["embeds"], {target: 1.0}, 1.0)(x, sigma)
    return float(rms / grad.pow(2).mean().sqrt().clamp(min=1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bar", choices=("base", "sweep", "dpo", "guidance"))
    parser.add_argument("--model", type=Path, default=VAR / "base")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: least CPU per step when shared)")
    parser.add_argument("--prompts", type=int, default=50, help="held-out evaluation prompts")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per evaluation prompt")
    # chosen on 40 training prompts (never the held-out ones): 30 steps / CFG 3 gate 72.5%, 20 / 3 70%, 20 / 4 70%;
    # the third session's `sweep` (100 training samples): Euler 30 / 60 / 100 73%, Heun 30 74%, CFG 2–6 ≤ CFG 3, shift
    # 2 / 5 within one sample; Heun 30 held-out 66.5% against 68.0% for these defaults (docs/alignment/report.md)
    parser.add_argument("--steps", type=int, default=30, help="sampling steps")
    parser.add_argument("--cfg", type=float, default=3.0)
    parser.add_argument("--solver", default="euler", choices=SOLVERS, help="the sampler's ODE solver")
    parser.add_argument("--shift", type=float, help="the σ table's shift (default: the model's sampling shift)")
    parser.add_argument("--prompt-set", default="heldout", choices=("heldout", "train"),
                        help="base: gate on held-out prompts (the bar) or on training prompts (to choose settings)")
    parser.add_argument("--train-prompt-seed", type=int, default=7, help="training-prompt draw (base, sweep)")
    parser.add_argument("--sweep-integrators", default="euler:30,euler:60,euler:100,heun:30,midpoint:30",
                        help="sweep stage 1: solver:steps pairs")
    parser.add_argument("--sweep-cfg", default="2,4.5,6", help="sweep stage 2: CFG scales besides --cfg")
    parser.add_argument("--sweep-shift", default="2,5", help="sweep stage 3: shifts besides the model's")
    parser.add_argument("--heldout-prompts", type=int, default=50, help="sweep: held-out prompts for the chosen one")
    parser.add_argument("--heldout-seeds", type=int, default=4)
    parser.add_argument("--grid", type=Path, help="base: write a PNG of samples here")
    parser.add_argument("--target", default="VQ", choices=("VQ", "MQ", "TA"))
    parser.add_argument("--annotator", default="careful")
    parser.add_argument("--pair-prompts", type=int, default=120)
    parser.add_argument("--pair-seeds", type=int, default=4)
    parser.add_argument("--runs", nargs="+", default=["naive", "guarded"])
    parser.add_argument("--beta", type=float, default=2000.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dpo-steps", type=int, default=300)
    parser.add_argument("--naive-steps", type=int, default=600)
    parser.add_argument("--naive-beta-schedule", default="constant")
    parser.add_argument("--sft-weight", type=float, default=1.0)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--heldout-draws", type=int, default=4)
    parser.add_argument("--loser-quantile", type=float, default=0.15)
    # On TA a loser far below the others is usually the wrong shape or direction: the signal itself, not garbage
    # to steer away from; leave the targeted dimension out of the floor there (--floor-dims VQ,MQ).
    parser.add_argument("--floor-dims", default="VQ,MQ,TA", help="dimensions the milder-losers floor applies to")
    parser.add_argument("--rm-blocks", type=int, default=2)
    parser.add_argument("--rm-steps", type=int, default=400)
    parser.add_argument("--guidance-scale", type=float, default=0.0, help="λ; 0 = set by --guidance-rms")
    parser.add_argument("--guidance-rms", type=float, default=0.3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    VAR.mkdir(parents=True, exist_ok=True)
    {"base": bar_base, "sweep": bar_sweep, "dpo": bar_dpo, "guidance": bar_guidance}[args.bar](args)


if __name__ == "__main__":
    main()
