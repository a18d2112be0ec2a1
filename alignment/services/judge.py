"""The promoted reward model as the judge of generated samples (the product's evaluation: no pixel analyser
outside the synthetic world). Frames are written as the mp4 an annotator would see and scored like any video."""

from collections.abc import Callable
from pathlib import Path

DIMENSIONS = ("VQ", "MQ", "TA")
# The least score difference (normalised units: one validation standard deviation = 1) that counts as a
# preference. Sampling on CPU is not bitwise reproducible across allocations (a float rounding flips a few pixels,
# which moves a reward by ~1e-3), so without a floor two renderings of one sample could "win" against each other.
MIN_TIE_MARGIN = 0.01


def tie_margins(reward_result: dict | None) -> dict[str, float]:
    """Per dimension, the tie threshold ε the reward model calibrated on held-out human ties (its run's test
    report), never below MIN_TIE_MARGIN."""
    test = (reward_result or {}).get("test") or {}
    margins = {}
    for d in DIMENSIONS:
        epsilon = (test.get(d) or {}).get("epsilon")
        margins[d] = max(MIN_TIE_MARGIN, float(epsilon)) if isinstance(epsilon, int | float) and epsilon == epsilon \
            else MIN_TIE_MARGIN
    return margins


def reward_model_judge(model_dir: str, work_dir: Path, margins: dict[str, float], fps: int = 8,
                       tick: Callable[[], None] | None = None):
    """A `Judge` for alignment.evaluate: (frames, prompt) → Judgement with the reward model's normalised scores;
    two samples tie on a dimension when their scores differ by no more than that dimension's margin."""
    from alignment.evaluate import Judgement
    from alignment.video_io import write_video
    from rewards.scorer import RewardScorer

    scorer = RewardScorer.from_pretrained(model_dir, device="cpu", cache_dir=work_dir / "clip-cache")
    work_dir.mkdir(parents=True, exist_ok=True)
    counter = iter(range(10**9))

    def judge(frames, prompt: str) -> Judgement:
        if tick is not None:
            tick()
        path = write_video(work_dir / f"sample-{next(counter):06d}.mp4", frames, fps=fps)
        score = scorer.score([path], [prompt])[0]
        return Judgement(utilities={d: score[d] for d in DIMENSIONS}, noise=dict(margins), checks={})

    return judge, scorer
