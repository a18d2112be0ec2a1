"""On-policy preference data in the synthetic world: sample the generator, let simulated annotators compare.

The paper's data loop, closed offline: several samples per prompt from the model being aligned, every pair of
samples of one prompt shown to a simulated annotator (`synthetic.annotators`) who perceives each video through
the pixel analyser's estimates (a generated clip has no ground-truth defect vector), labels per dimension
A / B / same, and the pairs whose weighted preference is decided become Flow-DPO pairs. Latents are kept exactly
as sampled (no video round trip), so winner and loser are the model's own outputs.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from alignment.dataset import PairData
from alignment.evaluate import SampleSettings
from alignment.world.clips import prompt_bucket

logger = logging.getLogger(__name__)

LABEL_SIGN = {"A": 1, "B": -1, "same": 0}


@dataclass
class SampledSet:
    prompts: list[str]  # one per sample
    seeds: list[int]
    latents: torch.Tensor  # [N, C, F, H, W], as sampled
    frames: np.ndarray  # uint8 [N, F, H, W, 3]
    analyses: list  # synthetic.Analysis per sample


@dataclass(frozen=True)
class Comparison:
    a: int  # sample indices
    b: int
    labels: dict[str, str]  # dimension → A / B / same


def sample_set(
    generator, prompts: Sequence[str], seeds: Sequence[int], settings: SampleSettings,
    analyse: Callable[[np.ndarray, str], object],
) -> SampledSet:
    """Every prompt × seed sampled (in chunks) and analysed."""
    from alignment.sampling import decode_latents, generate_latents

    items = [(p, s) for p in prompts for s in seeds]
    latents = []
    for start in range(0, len(items), settings.chunk):
        chunk = items[start:start + settings.chunk]
        latents.append(generate_latents(
            generator, [p for p, _ in chunk], [s for _, s in chunk], settings.num_frames, settings.height,
            settings.width, num_steps=settings.steps, guidance_scale=settings.cfg, solver=settings.solver,
            shift=settings.shift))
    all_latents = torch.cat(latents)
    frames = decode_latents(generator, all_latents)
    analyses = [analyse(f, p) for f, (p, _) in zip(frames, items, strict=True)]
    return SampledSet([p for p, _ in items], [s for _, s in items], all_latents, frames, analyses)


def annotate(samples: SampledSet, annotator: str = "careful", dimensions: Sequence[str] = ("VQ", "MQ", "TA"),
             seed: int = 0) -> list[Comparison]:
    """Every pair of samples of the same prompt, shown in random left/right order to a simulated annotator."""
    from synthetic.annotators import SIDE_TO_AB, ShownVideo, annotator_profile, decide
    from synthetic.prompts import parse_prompt

    profile = annotator_profile(annotator)
    rng = np.random.default_rng(seed)
    by_prompt: dict[str, list[int]] = {}
    for i, p in enumerate(samples.prompts):
        by_prompt.setdefault(p, []).append(i)
    out = []
    for prompt, idx in by_prompt.items():
        attrs = parse_prompt(prompt)
        for i, j in itertools.combinations(idx, 2):
            flip = rng.random() < 0.5
            left, right = (j, i) if flip else (i, j)
            shown = [ShownVideo(utilities=dict(samples.analyses[k].utilities), defects=samples.analyses[k].defects,
                                prompt=attrs) for k in (left, right)]
            decision = decide(profile, shown[0], shown[1], list(dimensions), {}, False, rng)
            labels = {d: SIDE_TO_AB[v] for d, v in decision.labels.items()}
            out.append(Comparison(left, right, labels))
    return out


def preference_pairs(
    comparisons: Sequence[Comparison], weights: dict[str, float], samples: SampledSet | None = None,
    loser_floor: dict[str, float] | None = None,
) -> list[tuple[int, int]]:
    """(winner, loser) of every comparison whose weighted label sum is non-zero.

    `loser_floor` ("milder losers", a guard against reward hacking) drops pairs whose loser is broken in some
    dimension — analyser utility below the floor, or flagged suspicious: pushing away from garbage teaches little
    about the targeted quality and invites the model to wander.
    """
    out = []
    for c in comparisons:
        score = sum(w * LABEL_SIGN[c.labels[d]] for d, w in weights.items() if w)
        if score == 0:
            continue
        winner, loser = (c.a, c.b) if score > 0 else (c.b, c.a)
        if loser_floor and samples is not None:
            analysis = samples.analyses[loser]
            if analysis.suspicious or any(analysis.utilities[d] < f for d, f in loser_floor.items()):
                continue
        out.append((winner, loser))
    return out


def split_pairs_by_prompt(pairs: Sequence[tuple[int, int]], samples: SampledSet, heldout_fraction: float,
                          ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(train, held-out) with disjoint prompts, by a hash of the prompt."""
    def held(pair: tuple[int, int]) -> bool:
        return prompt_bucket("dpo|" + samples.prompts[pair[0]]) < heldout_fraction

    return [p for p in pairs if not held(p)], [p for p in pairs if held(p)]


def pair_data(generator, samples: SampledSet, pairs: Sequence[tuple[int, int]]) -> PairData:
    if not pairs:
        raise ValueError("no decided preference pair")
    w = torch.tensor([p[0] for p in pairs])
    ll = torch.tensor([p[1] for p in pairs])
    prompts = sorted({samples.prompts[i] for i, _ in pairs})
    index = {p: k for k, p in enumerate(prompts)}
    embeds = generator.encode_prompts(prompts)
    rows = torch.stack([w, ll, torch.tensor([index[samples.prompts[i]] for i, _ in pairs])], dim=1)
    return PairData(samples.latents, embeds, rows)
