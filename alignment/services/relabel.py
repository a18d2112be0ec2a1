"""The paper's way to pairs: sample the pretrained generator several times per prompt, score every sample with
the promoted reward model, and let alignment.pairs pair best against worst (or weight them, for Flow-RWR)."""

import json
from pathlib import Path


def relabel_samples(job, generator, prompts: list[str], reward_dir: str) -> list:
    """ScoredSamples of `prompts` × the relabel seeds; cached in the run folder so a resumed run reuses them."""
    from alignment.pairs import ScoredSample, VideoRef
    from alignment.video_io import write_video
    from rewards.scorer import RewardScorer

    folder = job.folder / "relabel"
    index = folder / "samples.json"
    if index.is_file():
        return [ScoredSample(s["prompt"], VideoRef(Path(s["path"]), s["fps"], s["num_frames"]), s["scores"])
                for s in json.loads(index.read_text())]
    cfg = job.config.relabel
    items = [(p, s) for p in prompts for s in cfg.seeds]
    videos = job.sample(generator, items, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_video(folder / f"p{i // len(cfg.seeds):04d}_s{seed}.mp4", clip, fps=8)
             for i, ((_, seed), clip) in enumerate(zip(items, videos, strict=True))]
    job.tick()
    scores = RewardScorer.from_pretrained(reward_dir, device="cpu", cache_dir=folder / "clip-cache").score(
        paths, [p for p, _ in items])
    records = [{"prompt": p, "path": str(path), "fps": 8.0, "num_frames": int(clip.shape[0]),
                "scores": {d: s[d] for d in ("VQ", "MQ", "TA")}}
               for (p, _), path, clip, s in zip(items, paths, videos, scores, strict=True)]
    index.write_text(json.dumps(records))
    return [ScoredSample(r["prompt"], VideoRef(Path(r["path"]), r["fps"], r["num_frames"]), r["scores"])
            for r in records]
