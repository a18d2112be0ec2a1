"""``python -m rewards train|evaluate|score|checklist|pretrain-base|report``: the reward model from the command line.

Errors in the input (a bad config, a missing column, an unreadable video or checkpoint) end the command
with exit status 2 and a one-line reason on stderr. Heavy modules are imported inside the commands, so
``--help`` and argument errors answer at once.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rewards.config import RewardConfig

    config = RewardConfig.from_file(args.config)  # before the heavy imports: a bad config answers at once
    from rewards.train import train

    if args.base:
        config = replace(config, model=replace(config.model, base=args.base))
    result = train(args.data, config, args.out, media_dir=args.media, val_csv=args.val, cache_dir=args.cache,
                   resume_from=args.resume)
    print(json.dumps({"model_dir": str(result.model_dir), "global_step": result.global_step,
                      "epochs": result.epochs, "skipped_pairs": result.skipped_pairs, "validation": result.val_report},
                     indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from rewards.evaluate import evaluate

    result = evaluate(args.model, args.data, args.out, media_dir=args.media, cache_dir=args.cache,
                      batch_size=args.batch_size, n_boot=args.bootstrap)
    print(json.dumps({"n_pairs": result.n_pairs, "skipped_pairs": result.skipped_pairs, "report": result.report,
                      "files": [str(f) for f in result.files]}, indent=2))
    return 0


def _score(args: argparse.Namespace) -> int:
    from rewards.scorer import RewardScorer

    source = Path(args.input)
    if not source.is_file():
        raise FileNotFoundError(f"input file not found: {source}")
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"path", "prompt"} <= set(reader.fieldnames or []):
            raise ValueError(f"{source}: needs columns 'path' and 'prompt'")
        rows = list(reader)
    media = Path(args.media) if args.media else source.parent
    scorer = RewardScorer.from_pretrained(args.model, cache_dir=args.cache)
    scores = scorer.score([media / r["path"] for r in rows], [r["prompt"] for r in rows], batch_size=args.batch_size)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        writer = csv.writer(out)
        writer.writerow(["path", "prompt", "VQ", "MQ", "TA", "Overall"])
        for row, score in zip(rows, scores, strict=True):
            writer.writerow([row["path"], row["prompt"], *(f"{score[k]:.6f}" for k in ("VQ", "MQ", "TA", "Overall"))])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _checklist(args: argparse.Namespace) -> int:
    from rewards.checklist_export import read_checklist_jsonl
    from rewards.checklist_model import checklist_summary

    # Read and fit everything before writing: a malformed line leaves no output file behind.
    summary = checklist_summary(read_checklist_jsonl(args.data))
    Path(args.out).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected 0 or 1, got {text!r}")
    return text == "1"


def _pretrain_base(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from rewards.pretrain_base import INFO_FILE, PretrainConfig, cached_base_dir, pretrain_base, read_info

    overrides = {f.name: getattr(args, f.name) for f in fields(PretrainConfig)
                 if getattr(args, f.name, None) is not None}
    cfg = PretrainConfig(**overrides)
    out = Path(args.out) if args.out else cached_base_dir(cfg)
    if (out / INFO_FILE).is_file() and read_info(out).get("key") == cfg.key() and not args.force:
        print(json.dumps({"base_dir": str(out), "cached": True, **read_info(out)["result"]}, indent=2))
        return 0
    result = pretrain_base(out, cfg)
    print(json.dumps({"base_dir": str(out), "cached": False, "steps": result.steps,
                      "epochs_done": round(result.epochs_done, 2), "first_loss": result.first_loss,
                      "last_loss": result.last_loss, "held_out": result.held_out,
                      "render_seconds": round(result.render_seconds, 1),
                      "train_seconds": round(result.train_seconds, 1),
                      "cpu_seconds": round(result.cpu_seconds, 1)}, indent=2))
    return 0


def _report(args: argparse.Namespace) -> int:
    from rewards.report import ReportConfig, run_report

    fractions = tuple(float(f) for f in args.fractions.split(",")) if args.fractions else ReportConfig().fractions
    cfg = ReportConfig(fractions=fractions, epochs=args.epochs, small_data_epochs=args.small_data_epochs,
                       n_boot=args.bootstrap)
    result = run_report(args.out, cfg, base_dir=args.base, world_dir=args.world, work_dir=args.work)
    print("\n".join(result.findings))
    print(json.dumps({"files": [str(f) for f in result.files], "wall_s": round(result.wall_s, 1),
                      "cpu_s": round(result.cpu_s, 1)}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rewards", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a reward model from a VideoAlign-layout CSV")
    p.add_argument("--data", required=True, help="preference CSV (path_A, path_B, prompt, VQ, MQ, TA, ...)")
    p.add_argument("--config", required=True, help="JSON or TOML config with sections video/model/train")
    p.add_argument("--out", required=True, help="output directory (checkpoints/, model/, metrics.jsonl)")
    p.add_argument("--media", help="folder the CSV's video paths are relative to (default: the CSV's folder)")
    p.add_argument("--val", help="validation CSV (default: hold out prompts of --data)")
    p.add_argument("--cache", help="clip cache folder (default: OUT/clip_cache)")
    p.add_argument("--resume", help="checkpoint directory to resume from")
    p.add_argument("--base", help="base-model directory (overrides model.base of the config)")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="accuracy with/without ties, CIs and plots on a preference CSV")
    p.add_argument("--model", required=True, help="trained model directory (OUT/model)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--media")
    p.add_argument("--cache")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("score", help="score videos: CSV with columns path,prompt → CSV of normalised scores")
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", default="-", help="output CSV (default: stdout)")
    p.add_argument("--media")
    p.add_argument("--cache")
    p.add_argument("--batch-size", type=int, default=8)
    p.set_defaults(func=_score)

    p = sub.add_parser("checklist", help="fit the interpretable checklist model from a JSONL export")
    p.add_argument("--data", required=True, help="the platform's JSONL export (export_dataset --format jsonl)")
    p.add_argument("--out", required=True, help="JSON file for the weights and accuracies")
    p.set_defaults(func=_checklist)

    p = sub.add_parser("pretrain-base", help="pretrain the tiny Qwen2-VL as a captioner of synthetic clips")
    p.add_argument("--out", help="model directory to write (default: the cache, var/rewards/tiny_base/<recipe>)")
    p.add_argument("--force", action="store_true", help="pretrain again even when --out holds this recipe")
    for name, kind, text in (("n_clips", int, "rendered clips (default 2000)"),
                             ("held_out", int, "clips kept out of training for the held-out figures"),
                             ("size", int, "clip side in pixels, a multiple of 28 (default 112)"),
                             ("frames", int, "frames per clip (default 16: 8 temporal tokens)"),
                             ("temporal_patch_size", int, "frames per vision patch (default 2, as Qwen2-VL; the DCT "
                                                           "start's higher temporal frequencies need "
                                                           "--vision-embed-dim above 48)"),
                             ("hidden_size", int, None), ("num_layers", int, None), ("vision_depth", int, None),
                             ("vision_embed_dim", int, None), ("lr", float, None), ("batch_size", int, None),
                             ("epochs", int, None), ("max_cpu_minutes", float, "CPU-time budget in minutes, all included (default 28)"),
                             ("vision_lr_scale", float, "the vision tower's lr relative to --lr"),
                             ("defect_rate", float, "share of defects present in the sparse half of the clips"),
                             ("readout_share", float, "share of clips laid out as the reward template, a summary "
                                                      "trained at each reward token (default 0.5; 0: captions only)"),
                             ("readout_target", str, "total (number words) or levels (each defect level, "
                                                     "regressed; the default) at the reward tokens"),
                             ("readout_checklist", _flag, "1 (default): the readout's template lists each "
                                                          "dimension's defect words, each labelled with its level"),
                             ("warmup_steps", int, None), ("initializer_range", float, None),
                             ("vision_initializer_range", float, None),
                             ("patch_init", str, "random or dct (the patch embedding's starting filters)"),
                             ("patch_init_scale", float, None),
                             ("seed", int, None), ("workers", int, "rendering processes"),
                             ("threads", int, "torch threads (default 2)")):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=text)
    p.set_defaults(func=_pretrain_base)

    p = sub.add_parser("report", help="ablation report on the synthetic world (Table 3, Fig. 3, Fig. 4)")
    p.add_argument("--out", required=True, help="folder for report.md, results.json and the PNGs")
    p.add_argument("--base", help="pretrained tiny base (default: the cached one, pretrained when missing)")
    p.add_argument("--world", help="synthetic world folder (default: the cached one, built when missing)")
    p.add_argument("--work", help="folder for the trained models and clip cache (default: OUT/runs)")
    p.add_argument("--fractions", help="comma-separated fractions of the training judgements, with 1 (default 0.1,0.3,1)")
    p.add_argument("--epochs", type=int, default=1, help="epochs at full data (default 1)")
    p.add_argument("--small-data-epochs", type=int, default=3, help="epochs at smaller fractions (default 3)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.set_defaults(func=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Before torch loads: OpenMP threads that spin while waiting burn ~10× the CPU time of the work itself
    # on a busy machine (measured here: 3.4 vs 0.3 CPU-s per tiny-model step with 2 threads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:  # config, data, video and checkpoint errors are ValueErrors
        print(f"error: {exc}".splitlines()[0], file=sys.stderr)
        return 2
