"""Diagnostics of the pretrained base behind docs/alignment/report.md (2026-11-22), each printing JSON lines.

  .venv/bin/python benchmarks/alignment_base_probes.py ceiling --grammar simple --size 40 --clips 80
      the gate's upper bound: clean rendered clips → codec encode → decode → analyser (the chroma-unshuffle
      codec, or with --model DIR that model's own codec, e.g. its trained frame autoencoder)
  .venv/bin/python benchmarks/alignment_base_probes.py partial --model var/alignment/base-simple-step1000 \
      --sigma0 0.3,0.7 --cfg 1 --prompts 24
      the gate of samples integrated from a rendered held-out clip noised to σ₀ (where along the path it fails)
  .venv/bin/python benchmarks/alignment_base_probes.py x0 --model var/alignment/base-simple-step1000
      one-step x₀ error by σ on rendered held-out clips, against the mean-image predictor
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alignment.evaluate import gate_rate  # noqa: E402
from alignment.world.clips import heldout_prompts, model_grammar, sample_grammar_prompt  # noqa: E402
from alignment.world.judge import pixel_judge  # noqa: E402
from alignment.world.pretrain import clips_to_video  # noqa: E402


def _gate(frames: np.ndarray, prompts: list[str]) -> dict:
    g = gate_rate([pixel_judge(f, p) for f, p in zip(frames, prompts, strict=True)])
    return {"gate": round(g.rate, 4), "ci": [round(g.ci_low, 4), round(g.ci_high, 4)],
            "per_check": {k: round(v, 4) for k, v in g.per_check.items()}}


def _rendered(prompts: list[str], frames: int, size: int) -> np.ndarray:
    from synthetic.render import RenderConfig, render_frames

    return np.stack([render_frames(p, seed=i, config=RenderConfig(frames=frames, size=size))
                     for i, p in enumerate(prompts)])


def ceiling(args: argparse.Namespace) -> None:
    from alignment.codec import ChromaUnshuffleCodec
    from alignment.sampling import to_uint8_frames

    rng = np.random.default_rng(0)
    prompts = [sample_grammar_prompt(rng, args.grammar).text for _ in range(args.clips)]
    clips = _rendered(prompts, args.frames, args.size)
    codec = _load(args.model)[0].codec if args.model else ChromaUnshuffleCodec(4)
    back = to_uint8_frames(codec.decode(codec.encode(clips_to_video(clips))))
    print(json.dumps({"probe": "ceiling", "codec": codec.spec(), "grammar": args.grammar, "size": args.size,
                      "clips": args.clips,
                      "rendered": _gate(clips, prompts), "through_codec": _gate(back, prompts)}), flush=True)


def _load(model: Path):
    from alignment.generator import load_generator

    clip = json.loads((model / "generator.json").read_text())["clip"]
    return load_generator(model), clip


def partial(args: argparse.Namespace) -> None:
    from alignment.flow_matching import euler_step
    from alignment.sampling import _velocity, decode_latents

    gen, clip = _load(args.model)
    prompts = heldout_prompts(args.prompts, grammar=model_grammar(args.model))
    x0 = gen.codec.encode(clips_to_video(_rendered(prompts, clip["num_frames"], clip["height"])))
    embeds, negative = gen.encode_prompts(prompts), gen.encode_prompts([""] * len(prompts))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    for sigma0 in (float(s) for s in args.sigma0.split(",")):
        t0 = time.process_time()
        sigmas = np.linspace(sigma0, 0.0, max(2, round(args.steps * sigma0)) + 1)  # the full path's step size
        x = (1 - sigma0) * x0 + sigma0 * noise
        for a, b in zip(sigmas[:-1], sigmas[1:], strict=True):
            x = euler_step(x, _velocity(gen.transformer, x, torch.tensor(a * 1000.0), embeds, negative, args.cfg), a, b)
        print(json.dumps({"probe": "partial", "model": str(args.model), "sigma0": sigma0, "cfg": args.cfg,
                          **_gate(decode_latents(gen, x), prompts), "cpu_s": round(time.process_time() - t0, 1)}),
              flush=True)


@torch.no_grad()
def x0_error(args: argparse.Namespace) -> None:
    gen, clip = _load(args.model)
    prompts = heldout_prompts(args.prompts, grammar=model_grammar(args.model))
    x0 = gen.codec.encode(clips_to_video(_rendered(prompts, clip["num_frames"], clip["height"])))
    embeds = gen.encode_prompts(prompts)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    errors = {}
    for sigma in (0.3, 0.5, 0.7, 0.9, 0.97):
        xs = (1 - sigma) * x0 + sigma * noise
        v = gen.transformer(hidden_states=xs, timestep=torch.full((len(prompts),), sigma * 1000.0),
                            encoder_hidden_states=embeds, return_dict=False)[0]
        errors[str(sigma)] = round(float(((xs - sigma * v - x0) ** 2).mean()), 5)
    print(json.dumps({"probe": "x0", "model": str(args.model), "mse_by_sigma": errors,
                      "mean_image_mse": round(float(((x0 - x0.mean(0)) ** 2).mean()), 5)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="probe", required=True)
    p = sub.add_parser("ceiling")
    p.add_argument("--grammar", default="simple")
    p.add_argument("--size", type=int, default=40)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--clips", type=int, default=80)
    p.add_argument("--model", type=Path, help="use this model directory's codec (default: chroma-unshuffle ÷4)")
    for name in ("partial", "x0"):
        p = sub.add_parser(name)
        p.add_argument("--model", type=Path, required=True)
        p.add_argument("--prompts", type=int, default=24)
        if name == "partial":
            p.add_argument("--sigma0", default="0.3,0.5,0.7,0.9")
            p.add_argument("--cfg", type=float, default=4.0)
            p.add_argument("--steps", type=int, default=20, help="Euler steps of a full σ = 1 → 0 path")
    args = parser.parse_args()
    torch.set_num_threads(1)
    {"ceiling": ceiling, "partial": partial, "x0": x0_error}[args.probe](args)


if __name__ == "__main__":
    main()
