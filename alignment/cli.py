"""`python -m alignment …`: build a tiny generator, make pairs, train (Flow-DPO / Flow-RWR / SFT / Diffusion-DPO),
train the latent reward model, and generate videos with optional reward guidance.

Bad input ends with a non-zero exit status and a one-line reason on stderr.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from alignment.config import METHODS, ConfigError, TrainConfig

EXIT_BAD_INPUT = 2


class CliError(ValueError):
    """A problem with the command line itself."""


def _add_clip_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=int, default=9, help="frames per video (Wan VAE: 4k + 1)")
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=32)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alignment", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build-tiny", help="write a random-weight tiny generator (tests, CPU runs)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--family", choices=("wan", "ltx", "cogvideox"), default="wan",
                   help="wan, ltx (flow matching) or cogvideox (v-prediction, for diffusion-dpo)")
    p.add_argument("--codec", choices=("wan_vae", "pixel_unshuffle"), help="wan only (default wan_vae)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("pretrain-base", help="pretrain the tiny generator on synthetic clips (mixed-quality profiles)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", type=Path, help="JSON of PretrainConfig fields (clips: ClipSetConfig fields)")
    p.add_argument("--steps", type=int, help="optimiser steps (overrides the config)")
    p.add_argument("--clips", type=int, help="number of rendered training clips (overrides the config)")
    p.add_argument("--cache-dir", type=Path, default=Path("var/alignment"), help="where rendered clips are cached")
    p.add_argument("--cpu-budget", type=float, help="CPU seconds for the whole command, rendering included")
    p.add_argument("--pause-file", help="training sleeps while this file exists")

    p = sub.add_parser("make-pairs", help="best-vs-worst pairs per prompt from reward-scored samples")
    p.add_argument("--samples", required=True, type=Path, help="CSV: path,prompt,<score columns>[,fps,num_frames]")
    p.add_argument("--weights", default="VQ=1,MQ=1,TA=1")
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("train", help="align a generator with a LoRA")
    p.add_argument("--method", choices=METHODS, help="overrides the config file's method")
    p.add_argument("--pairs", type=Path, help="export CSV in the VideoAlign layout (flow-dpo, sft, diffusion-dpo)")
    p.add_argument("--samples", type=Path, help="scored samples CSV (flow-rwr)")
    p.add_argument("--model", required=True, type=Path, help="generator directory")
    p.add_argument("--config", type=Path, help="JSON of TrainConfig fields")
    p.add_argument("--weights", help="dimension weights, e.g. VQ=1,MQ=1,TA=1 (overrides the config)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")

    p = sub.add_parser("train-reward", help="train the noise-aware latent reward model for guidance")
    p.add_argument("--pairs", required=True, type=Path, help="export CSV in the VideoAlign layout")
    p.add_argument("--model", required=True, type=Path, help="generator directory (its first blocks are reused)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", type=Path, help="JSON of LatentRewardConfig fields")
    p.add_argument("--clean", action="store_true", help="train on clean latents (the ablation)")
    _add_clip_args(p)

    p = sub.add_parser("generate", help="sample videos, optionally with a LoRA and reward guidance")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--lora", type=Path, help="a LoRA directory written by `train`")
    p.add_argument("--prompt", action="append", default=[], help="repeat for several prompts")
    p.add_argument("--prompts-file", type=Path, help="CSV with a prompt column")
    p.add_argument("--prompt-column", default="prompt")
    p.add_argument("--limit", type=int, help="first N prompts of --prompts-file")
    p.add_argument("--seeds", default="0", help="comma-separated; every prompt is sampled with every seed")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=5.0, help="classifier-free guidance scale")
    p.add_argument("--guidance", help="reward-guidance weights, e.g. VQ=0.5,MQ=0.5,TA=0")
    p.add_argument("--guidance-scale", type=float, default=1.0, help="λ of the reward-gradient term")
    p.add_argument("--reward-model", type=Path, help="latent reward model directory (needed by --guidance)")
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--out", required=True, type=Path)
    _add_clip_args(p)

    p = sub.add_parser("evaluate", help="aligned / guided vs pretrained from the same seeds: Table-4 win rates")
    p.add_argument("--model", required=True, type=Path, help="the pretrained generator directory")
    p.add_argument("--lora", action="append", default=[], metavar="NAME=DIR", help="an aligned arm; repeatable")
    p.add_argument("--guided", metavar="NAME",
                   help="a reward-guided arm (needs --guidance and --latent-reward-model)")
    p.add_argument("--guidance", help="reward-guidance weights, e.g. VQ=1,MQ=0,TA=0")
    p.add_argument("--guidance-scale", type=float, default=1.0)
    p.add_argument("--latent-reward-model", type=Path, help="the guided arm's latent reward model (train-reward)")
    p.add_argument("--prompts-file", type=Path,
                   help="CSV with a prompt column, e.g. ../shared/data/prompts/*.csv (default: held-out synthetic "
                        "prompts); the synthetic judge takes only synthetic-grammar prompts")
    p.add_argument("--prompt-column", default="prompt", help="e.g. prompt_shorter in vbench / videogen_eval")
    p.add_argument("--heldout-prompts", type=int, default=40, help="number of held-out synthetic prompts")
    p.add_argument("--limit", type=int, help="first N prompts of --prompts-file")
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated; every prompt is sampled with every seed")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=4.0)
    p.add_argument("--judge", choices=("synthetic", "reward-model"), default="synthetic",
                   help="synthetic: the world's pixel analyser (a tie: a difference within its measurement noise); "
                        "reward-model: the --reward-model checkpoint's normalised scores (a tie: |difference| ≤ "
                        "ε_d = max(--tie-epsilon, the ε_d of --tie-calibration))")
    p.add_argument("--reward-model", type=Path, help="the judge's reward model: `python -m rewards train` OUT/model")
    p.add_argument("--tie-epsilon", type=float, default=0.01,
                   help="reward-model judge: a pair ties when |Δ normalised score| ≤ this (default 0.01: CPU "
                        "sampling is not bitwise reproducible, a rounding moves a reward by ~1e-3)")
    p.add_argument("--tie-calibration", type=Path,
                   help="reward-model judge: evaluation.json of `python -m rewards evaluate` on held-out human "
                        "judgements; its per-dimension epsilon (the tie-calibrated threshold) raises the tie margin")
    p.add_argument("--side-by-side", type=int, default=8, metavar="N",
                   help="first N prompt×seed pairs as mp4s, pretrained left, arm right (0: none)")
    p.add_argument("--fps", type=int, default=8, help="of the side-by-side and judged videos")
    p.add_argument("--out", required=True, type=Path)
    _add_clip_args(p)
    return parser


def cmd_build_tiny(args: argparse.Namespace) -> dict:
    from alignment.generator import build_tiny_generator
    from alignment.tiny_families import build_tiny_cogvideox_generator, build_tiny_ltx_generator

    if args.codec is not None and args.family != "wan":
        raise CliError(f"--codec is for the wan family only; {args.family} uses its own VAE")
    if args.family == "ltx":
        return {"model": str(build_tiny_ltx_generator(args.out, seed=args.seed))}
    if args.family == "cogvideox":
        return {"model": str(build_tiny_cogvideox_generator(args.out, seed=args.seed))}
    return {"model": str(build_tiny_generator(args.out, seed=args.seed, codec=args.codec or "wan_vae"))}


def cmd_pretrain_base(args: argparse.Namespace) -> dict:
    import time

    from alignment.world.clips import load_or_render
    from alignment.world.pretrain import PretrainConfig, pretrain

    values = _read_json(args.config)
    clip_values = dict(values.pop("clips", {}))
    if args.clips is not None:
        clip_values["n_clips"] = args.clips
    if args.steps is not None:
        values["steps"] = args.steps
    if args.pause_file:
        values["pause_file"] = args.pause_file
    try:
        config = PretrainConfig(clips=clip_values, **values)
    except TypeError as exc:
        raise ConfigError(f"pretrain config: {exc}") from exc
    cpu0, wall0 = time.process_time(), time.monotonic()
    clips = load_or_render(config.clips, args.cache_dir)
    if args.cpu_budget is not None:
        config.max_cpu_seconds = args.cpu_budget - (time.process_time() - cpu0) - 60.0  # a minute for saving
    result = pretrain(config, clips, args.out)
    return {"model": str(result.out_dir), "steps": result.steps, "parameters": result.parameters,
            "final_loss": result.history[-1]["loss"] if result.history else None,
            "wall_s": round(time.monotonic() - wall0, 1), "cpu_s": round(time.process_time() - cpu0, 1)}


def cmd_make_pairs(args: argparse.Namespace) -> dict:
    from alignment.pairs import load_scored_samples, pairs_from_scored_samples, parse_weights, write_pairs_csv

    pairs = pairs_from_scored_samples(load_scored_samples(args.samples), parse_weights(args.weights))
    write_pairs_csv(pairs, args.out)
    return {"pairs": len(pairs), "out": str(args.out)}


def _read_json(path: Path | None) -> dict:
    if path is None:
        return {}
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON ({exc})") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return values


def _train_config(args: argparse.Namespace) -> TrainConfig:
    values = _read_json(args.config)
    if args.method:
        values["method"] = args.method
    if "method" not in values:
        raise CliError("no method: pass --method or put one in --config")
    if args.weights:
        from alignment.pairs import parse_weights

        values["dimension_weights"] = parse_weights(args.weights)
    return TrainConfig.from_dict(values)


def cmd_train(args: argparse.Namespace) -> dict:
    config = _train_config(args)
    needs = "samples" if config.method == "flow-rwr" else "pairs"
    if getattr(args, needs) is None:
        raise CliError(f"{config.method} needs --{needs}")
    from alignment.dataset import prepare_pairs, prepare_samples
    from alignment.generator import load_generator
    from alignment.latents import ClipSpec
    from alignment.pairs import load_export_pairs, load_scored_samples, split_by_prompt
    from alignment.train import check_method_fits, describe, train

    spec = ClipSpec(config.clip.num_frames, config.clip.height, config.clip.width, config.clip.fps)
    cache = args.out / "latent_cache"
    # read the data before loading the model: a bad file should fail fast
    if needs == "pairs":
        pair_set = load_export_pairs(args.pairs, config.dimension_weights)
        logging.info("%d pairs from %d rows (%d undecided, %d invalid)", len(pair_set.pairs), pair_set.rows,
                     pair_set.undecided, pair_set.invalid)
        if not pair_set.pairs:
            raise CliError(f"{args.pairs}: no decided preference pair to train on ({pair_set.rows} rows)")
        train_pairs, heldout_pairs = split_by_prompt(pair_set.pairs, config.heldout_fraction, config.seed)
        if not train_pairs or (config.heldout_fraction and not heldout_pairs):
            raise CliError(f"heldout_fraction {config.heldout_fraction} leaves no training or no held-out pair")
        generator = load_generator(args.model)
        check_method_fits(config.method, generator)  # before encoding every video
        data = prepare_pairs(generator, train_pairs, spec, cache)
        heldout = prepare_pairs(generator, heldout_pairs, spec, cache) if heldout_pairs else None
    else:
        samples = load_scored_samples(args.samples)
        generator = load_generator(args.model)
        check_method_fits(config.method, generator)
        data = prepare_samples(generator, samples, config.dimension_weights, spec, cache, config.rwr_center_per_prompt)
        heldout = None
    result = train(config, data, generator, args.out, resume=args.resume, heldout=heldout)
    return describe(result)


def cmd_train_reward(args: argparse.Namespace) -> dict:
    from alignment.dataset import prepare_comparisons
    from alignment.generator import load_generator
    from alignment.latent_reward import LatentRewardConfig, require_wan, train_latent_reward
    from alignment.latents import ClipSpec
    from alignment.pairs import load_export_comparisons

    values = _read_json(args.config)
    if args.clean:
        values["noisy"] = False
    try:
        config = LatentRewardConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"latent reward config: {exc}") from exc
    generator = load_generator(args.model)
    require_wan(generator.family.name)  # before encoding any video
    comparisons = load_export_comparisons(args.pairs, config.dimensions)
    spec = ClipSpec(args.frames, args.height, args.width)
    data = prepare_comparisons(generator, comparisons, config.dimensions, spec, args.out / "latent_cache")
    result = train_latent_reward(generator.transformer, data, config, args.out)
    return {"out": str(args.out), **result.history[-1]}


def _prompts(args: argparse.Namespace) -> list[str]:
    prompts = list(args.prompt)
    if args.prompts_file:
        from alignment.prompt_suite import read_prompts

        prompts += read_prompts(args.prompts_file, args.prompt_column, args.limit)
    if not prompts:
        raise CliError("no prompt: pass --prompt or --prompts-file")
    return prompts


def cmd_generate(args: argparse.Namespace) -> dict:
    prompts = _prompts(args)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError as exc:
        raise CliError(f"--seeds {args.seeds!r}: expected comma-separated integers") from exc
    if args.guidance and not args.reward_model:
        raise CliError("--guidance needs --reward-model")
    from alignment.generator import load_generator
    from alignment.guidance import parse_guidance, reward_gradient
    from alignment.latent_reward import LatentRewardModel, require_wan
    from alignment.sampling import decode_latents, generate_latents
    from alignment.video_io import write_video

    weights = parse_guidance(args.guidance) if args.guidance else None
    generator = load_generator(args.model)
    if weights:
        require_wan(generator.family.name)
    if args.lora:
        if not args.lora.is_dir():
            raise CliError(f"LoRA directory not found: {args.lora}")
        generator.pipe.load_lora_weights(args.lora)
    reward_model = LatentRewardModel.load(args.reward_model) if weights else None
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for p_index, prompt in enumerate(prompts):
        grad = None
        if reward_model is not None:
            embeds = generator.encode_prompts([prompt] * len(seeds))
            grad = reward_gradient(reward_model, embeds, weights, args.guidance_scale)
        latents = generate_latents(
            generator, [prompt] * len(seeds), seeds, args.frames, args.height, args.width,
            num_steps=args.steps, guidance_scale=args.cfg, reward_grad=grad,
        )
        for seed, frames in zip(seeds, decode_latents(generator, latents), strict=True):
            path = write_video(args.out / f"p{p_index:04d}_s{seed}.mp4", frames, fps=args.fps)
            manifest.append({"prompt": prompt, "seed": seed, "path": path.name, "fps": args.fps,
                             "num_frames": int(frames.shape[0])})
    (args.out / "samples.json").write_text(json.dumps(manifest, indent=2))
    return {"videos": len(manifest), "out": str(args.out)}


def _seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError as exc:
        raise CliError(f"--seeds {text!r}: expected comma-separated integers") from exc


def _named_path(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise CliError(f"--lora {text!r}: expected NAME=DIR")
    return name, Path(path)


def _model_clip(model: Path, args: argparse.Namespace) -> tuple[int, int, int]:
    """The clip shape a model directory was pretrained on (generator.json), else the command line's."""
    from alignment.generator import model_clip

    return model_clip(model) or (args.frames, args.height, args.width)


def cmd_evaluate(args: argparse.Namespace) -> dict:
    from alignment.evaluate import Arm, SampleSettings, check_arm_names, evaluate, format_table

    seeds = _seed_list(args.seeds)
    arms = [Arm(name, lora=path) for name, path in map(_named_path, args.lora)]
    if args.guided:
        if not args.guidance or not args.latent_reward_model:
            raise CliError("--guided needs --guidance and --latent-reward-model")
        from alignment.guidance import parse_guidance

        arms.append(Arm(args.guided, reward_model=args.latent_reward_model, guidance=parse_guidance(args.guidance),
                        guidance_scale=args.guidance_scale))
    if not arms:
        raise CliError("nothing to compare: pass --lora NAME=DIR and/or --guided NAME")
    check_arm_names([arm.name for arm in arms])  # names become paths under --out: refuse before writing any
    if args.side_by_side < 0 or args.fps < 1:
        raise CliError("--side-by-side must be ≥ 0 and --fps ≥ 1")
    if args.prompts_file:
        from alignment.prompt_suite import read_prompts

        prompts = read_prompts(args.prompts_file, args.prompt_column, args.limit)
    else:
        from alignment.world.clips import heldout_prompts, model_grammar

        # a base pretrained on a restricted grammar is judged on held-out prompts of that grammar
        prompts = heldout_prompts(args.heldout_prompts, grammar=model_grammar(args.model))
    from alignment.judges import build_judge

    clip = _model_clip(args.model, args)
    # the judge checks the prompts and loads its model here, before the first sample
    judge, judge_info = build_judge(
        args.judge, prompts, clip, args.out / "judged", source=str(args.prompts_file or "the held-out prompts"),
        reward_model=args.reward_model, tie_floor=args.tie_epsilon, tie_calibration=args.tie_calibration,
        fps=args.fps)
    settings = SampleSettings(*clip, steps=args.steps, cfg=args.cfg)
    report = evaluate(args.model, arms, prompts, seeds, settings, judge, args.out, side_by_side=args.side_by_side,
                      fps=args.fps, judge_info=judge_info)
    print(format_table(report), file=sys.stderr)
    return {"out": str(args.out), "pairs": len(prompts) * len(seeds), "judge": args.judge,
            "base_gate": report.base_gate.rate if report.base_gate else None,
            "arms": {a.name: {"gate": a.gate.rate if a.gate else None,
                              **{d: round(w.rate, 4) for d, w in a.table.items()}} for a in report.arms},
            "wall_s": round(report.wall_s, 1), "cpu_s": round(report.cpu_s, 1)}


def _quiet_loading() -> None:
    """Keep stderr for our one-line errors: no checkpoint-loading bars from diffusers / transformers."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


COMMANDS = {
    "build-tiny": cmd_build_tiny,
    "pretrain-base": cmd_pretrain_base,
    "make-pairs": cmd_make_pairs,
    "train": cmd_train,
    "train-reward": cmd_train_reward,
    "generate": cmd_generate,
    "evaluate": cmd_evaluate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        _quiet_loading()
    try:
        summary = COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as exc:
        # one line: the exception messages of this package name the file and field at fault
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(summary))
    return 0
