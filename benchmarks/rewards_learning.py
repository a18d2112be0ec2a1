"""The learning bar of issue 6: from the pretrained tiny base, ≤ 4,000 judgements by careful and noisy
annotators, ≤ 15 minutes of training; held-out accuracy without ties within 8 points of the oracle ceiling
(moonshot 5) for VQ, MQ and TA, with 95% bootstrap intervals.

    .venv/bin/python benchmarks/rewards_learning.py                 # the recipe, end to end
    .venv/bin/python benchmarks/rewards_learning.py --epochs 3      # a longer run

The cached pretrained base (``python -m rewards pretrain-base``) and the cached synthetic world
(``rewards.synthetic_world``) live under var/rewards/ and are rebuilt when missing (~25 and ~15 minutes).
Prints the per-dimension figures and the wall and process CPU times; writes them as JSON next to the run.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: spinning threads waste ~10× CPU

import argparse  # noqa: E402
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from rewards.learning import reward_recipe, train_and_test, with_epochs
from rewards.pretrain_base import ensure_pretrained_base, read_info, var_root
from rewards.synthetic_world import WorldConfig, ensure_world

BAR_POINTS, MOONSHOT_POINTS, MAX_JUDGEMENTS = 8.0, 5.0, 4000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--loss", default="btt", choices=("bt", "btt", "regression"))
    parser.add_argument("--out", default=str(var_root() / "rewards" / "learning_run"))
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--train-vision", action="store_true", help="train the vision tower too (lr 1e-3)")
    parser.add_argument("--lr-lora", type=float, help="the LoRA learning rate (default: the recipe's 1e-3)")
    parser.add_argument("--token-init", default="previous", choices=("mean", "previous"),
                        help="reward tokens start as the mean embedding or as the ':' before each")
    parser.add_argument("--base", type=Path, help="a pretrained base directory (default: the cached default recipe)")
    parser.add_argument("--head-only", action="store_true",
                        help="train only the head and the reward tokens (no LoRA, merger frozen)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One thread: on this shared 2-core machine a second thread cost 3-4x the CPU (spinning, contention).
    torch.set_num_threads(1)

    base = args.base or ensure_pretrained_base()
    world = ensure_world(WorldConfig())
    out = Path(args.out)
    config = with_epochs(reward_recipe(base, loss=args.loss, train_vision=args.train_vision,
                                        token_init=args.token_init), args.epochs)
    if args.lr_lora is not None:
        config = replace(config, train=replace(config.train, lr_lora=args.lr_lora))
    if args.head_only:
        config = replace(config, train=replace(config.train, train_lora=False, train_merger=False))
    train_csv = world / ("train_mos.csv" if args.loss == "regression" else "train.csv")
    start, cpu = time.perf_counter(), time.process_time()
    run = train_and_test(f"{args.loss} separate tokens", world, config, out, train_csv=train_csv,
                         cache_dir=var_root() / "rewards" / "clip_cache", n_boot=args.bootstrap)
    total_wall, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    if run.train_pairs > MAX_JUDGEMENTS:
        raise SystemExit(f"trained on {run.train_pairs} judgements, more than the bar's {MAX_JUDGEMENTS}")

    pretrain = read_info(base)["result"]
    print(f"base: {base} (captioner: {pretrain['steps']} steps, render {pretrain['render_seconds']:.0f} s + "
          f"train {pretrain['train_seconds']:.0f} s wall, {pretrain['cpu_seconds']:.0f} s CPU)")
    print(f"world: {world}; trained on {run.train_pairs} judgements, {run.steps} steps, {args.epochs} epoch(s): "
          f"{run.train_wall_s / 60:.1f} min wall, {run.train_cpu_s / 60:.1f} min process CPU "
          f"(with test scoring: {total_wall / 60:.1f} / {total_cpu / 60:.1f} min)")
    print(f"{'dim':8} {'model w/o ties':>22} {'oracle w/o ties':>22} {'gap (points)':>22}  bar(8)  moonshot(5)")
    for d, c in run.comparison.items():
        gap, (glo, ghi) = 100 * c["gap_without_ties"], c["gap_without_ties_ci95"]
        print(f"{d:8} {100 * c['model_without_ties']:6.1f} [{100 * c['model_without_ties_ci95'][0]:.1f}, "
              f"{100 * c['model_without_ties_ci95'][1]:.1f}]   "
              f"{100 * c['oracle_without_ties']:6.1f} [{100 * c['oracle_without_ties_ci95'][0]:.1f}, "
              f"{100 * c['oracle_without_ties_ci95'][1]:.1f}]   {gap:6.1f} [{100 * glo:.1f}, {100 * ghi:.1f}]  "
              f"{'yes' if gap <= BAR_POINTS else 'NO':>6}  {'yes' if gap <= MOONSHOT_POINTS else 'no':>6}")
    for d, c in run.comparison.items():
        print(f"{d:8} with ties: model {100 * c['model_with_ties']:.1f} [{100 * c['model_with_ties_ci95'][0]:.1f}, "
              f"{100 * c['model_with_ties_ci95'][1]:.1f}] (ε={c['model_epsilon']}), oracle "
              f"{100 * c['oracle_with_ties']:.1f}; tie AUC of |Δr| {run.tie_auc[d]:.3f}")
    (out / "learning_bar.json").write_text(json.dumps({
        **run.summary(), "epochs": args.epochs, "base": str(base), "world": str(world),
        "total_wall_s": total_wall, "total_cpu_s": total_cpu}, indent=2, default=float))


if __name__ == "__main__":
    main()
