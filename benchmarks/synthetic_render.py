"""Render + encode throughput of the synthetic world (64×64×16 mp4 by default), in clips per second.

    .venv/bin/python benchmarks/synthetic_render.py [--clips 600] [--workers 2] [--size 64] [--frames 16]

Clips are drawn from the twelve generator profiles (so defects are as in a dataset) over random prompts.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

from synthetic.encode import encode_frames
from synthetic.generators import GENERATORS
from synthetic.prompts import sample_prompts
from synthetic.render import RenderConfig, render_frames, rng_for


def _job(job: tuple[str, int, object, RenderConfig]) -> int:
    text, seed, defects, config = job
    return len(encode_frames(render_frames(text, seed, defects, config), config.fps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    config = RenderConfig(frames=args.frames, size=args.size)
    gens = list(GENERATORS.values())
    rng = rng_for(0, "benchmark")
    jobs = [(p.text, i, gens[i % len(gens)].sample(rng), config)
            for i, p in enumerate(sample_prompts(args.clips, seed=1))]
    for workers in sorted({1, args.workers}):
        start, cpu = time.perf_counter(), time.process_time()
        if workers == 1:
            sizes = [_job(j) for j in jobs]
        else:
            with ProcessPoolExecutor(workers) as pool:
                sizes = list(pool.map(_job, jobs, chunksize=16))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        line = (f"workers={workers}: {args.clips} clips {args.size}x{args.size}x{args.frames} in {elapsed:.2f} s "
                f"= {args.clips / elapsed:.1f} clips/s (mean file {sum(sizes) / len(sizes) / 1024:.1f} KiB)")
        if workers == 1:
            # On a shared machine wall time includes other people's work; CPU time per clip does not.
            line += f"; {1000 * cpu / args.clips:.2f} ms CPU per clip = {args.clips / cpu:.1f} clips per CPU-second"
        print(line)


if __name__ == "__main__":
    main()
