"""Closing the loop: videos of the promoted generator come back to the annotators as comparisons — aligned vs
pretrained (same seed: the paper's human evaluation) and aligned vs aligned (different seeds) — with, optionally,
the pairs the promoted reward model is least certain about served first."""

import logging
from itertools import pairwise
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from annotation.models import Comparison
from annotation.services.comparisons import comparison_create, prompt_get_or_create
from annotation.services.videos import video_register_file
from rewards.models import RegistryEntry

logger = logging.getLogger(__name__)
DIMENSIONS = ("VQ", "MQ", "TA")


def uncertainty_queue_key(scores_a: dict, scores_b: dict) -> float:
    """A prioritised queue key (< 0: served before every ordinary comparison, lowest first): -1 when the reward
    model cannot tell the two videos apart, rising towards 0 as its mean |Δ score| over dimensions grows."""
    certainty = sum(abs(scores_a[d] - scores_b[d]) for d in DIMENSIONS) / len(DIMENSIONS)
    return -1.0 / (1.0 + certainty)


def _sample(job, lora: Path | None, prompts: list[str], seeds: list[int]):
    from alignment.evaluate import Arm, arm_sampler
    from alignment.generator import load_generator

    generator = (arm_sampler(Path(job.config.generator), Arm("aligned", lora=lora))[0] if lora is not None
                 else load_generator(job.config.generator))
    items = [(p, s) for p in prompts for s in seeds]
    return items, job.sample(generator, items, job.config.generate)


def _pair_exists(prompt, video_a, video_b) -> bool:
    return Comparison.objects.filter(Q(video_a=video_a, video_b=video_b) | Q(video_a=video_b, video_b=video_a),
                                     prompt=prompt).exists()


def _adapter(job, run_lora: Path) -> tuple[Path, int] | None:
    """(LoRA directory, the run that trained it) to generate with, or None when the config's choice is absent."""
    if job.config.generate.adapter == "run":
        return run_lora, job.run.pk
    entry = RegistryEntry.objects.filter(project=job.run.project, kind=RegistryEntry.Kind.GENERATOR,
                                         active=True).first()
    if entry is None or entry.details.get("base") != job.config.generator:
        return None
    return Path(entry.model_dir), entry.alignment_run_id


def generated_comparisons_import(*, job, files: dict, reward_dir: str, run_lora: Path) -> dict:
    """Generate with the chosen adapter (and without it) and import the comparisons; returns counts."""
    from alignment.services.pipeline import heldout_prompts
    from alignment.video_io import write_video

    run, gen = job.run, job.config.generate
    adapter = _adapter(job, run_lora)
    if adapter is None:
        return {"skipped": "no promoted adapter for this generator"}
    lora, origin = adapter
    prompts = gen.prompt_list or heldout_prompts(files["test"], gen.prompts)
    seeds = [s + 1000 * run.pk for s in gen.seeds] if gen.vary_seeds else list(gen.seeds)
    aligned_items, aligned = _sample(job, lora, prompts, seeds)
    base_items, base = _sample(job, None, prompts, seeds[:1])
    folder = Path(settings.MEDIA_ROOT) / "generated" / f"alignment-{run.pk}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for tag, items, clips in (("aligned", aligned_items, aligned), ("pretrained", base_items, base)):
        for (prompt, seed), clip in zip(items, clips, strict=True):
            paths[(tag, prompt, seed)] = write_video(folder / f"p{prompts.index(prompt):04d}_{tag}_s{seed}.mp4", clip)
    scores = {}
    if gen.active_selection:
        from rewards.scorer import RewardScorer

        job.tick()
        keys = list(paths)
        scorer = RewardScorer.from_pretrained(reward_dir, device="cpu", cache_dir=job.folder / "clip-cache")
        scores = dict(zip(keys, scorer.score([paths[k] for k in keys], [k[1] for k in keys]), strict=True))
    counts = {"videos": len(paths), "aligned_vs_pretrained": 0, "aligned_vs_aligned": 0, "identical_skipped": 0,
              "already_there": 0, "active_selection": bool(scores), "adapter": str(lora), "adapter_run": origin}
    first = seeds[0]
    with transaction.atomic():
        names = {"aligned": f"aligned:alignment-{origin}", "pretrained": "pretrained"}
        videos = {key: video_register_file(path=path, generator=names[key[0]]) for key, path in paths.items()}
        for prompt in prompts:
            row = prompt_get_or_create(project=run.project, text=prompt)
            pairs = [("aligned_vs_pretrained", ("aligned", prompt, first), ("pretrained", prompt, first))]
            pairs += [("aligned_vs_aligned", ("aligned", prompt, a), ("aligned", prompt, b))
                      for a, b in pairwise(seeds)]
            for kind, key_a, key_b in pairs:
                video_a, video_b = videos[key_a], videos[key_b]
                if video_a.pk == video_b.pk:  # an adapter that changed nothing gives the same file
                    counts["identical_skipped"] += 1
                    continue
                if _pair_exists(row, video_a, video_b):  # a resumed run imports once
                    counts["already_there"] += 1
                    continue
                comparison = comparison_create(project=run.project, prompt=row, video_a=video_a, video_b=video_b)
                if scores:
                    comparison.queue_key = uncertainty_queue_key(scores[key_a], scores[key_b])
                    comparison.save(update_fields=["queue_key"])
                counts[kind] += 1
    logger.info("alignment run %s: %s", run.pk, counts)
    return counts
