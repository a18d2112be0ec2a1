"""Time to build a labelled make-dataset of about 10,000 comparisons (152 prompts × 66 generator pairs).

    .venv/bin/python benchmarks/synthetic_dataset.py [--prompts 152] [--out /tmp/synthetic-bench]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from synthetic.dataset import DatasetConfig, make_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=152)
    parser.add_argument("--out", type=Path, default=Path("/tmp/synthetic-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    start = time.perf_counter()
    summary = make_dataset(args.out, DatasetConfig(n_prompts=args.prompts, seed=0))
    elapsed = time.perf_counter() - start
    total = sum(summary.comparisons.values())
    print(f"{total} comparisons, {summary.n_videos} videos in {elapsed:.1f} s ({total / elapsed:.0f} comparisons/s)")
    for dim, acc in summary.oracle.items():
        print(f"oracle ceiling {dim}: with ties {acc['with_ties']:.3f}, without ties {acc['without_ties']:.3f}")


if __name__ == "__main__":
    main()
