"""Calibration of the simulated annotators: the oracle ceiling (accuracy of the true utilities against the
labels, with and without ties) and the tie rate per annotator type, on make-dataset's default world.

    .venv/bin/python benchmarks/synthetic_annotators.py [--prompts 200]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from synthetic.annotators import ANNOTATOR_TYPES, SIDE_TO_AB, draw_label
from synthetic.generators import GENERATORS
from synthetic.oracle import oracle_accuracy, oracle_utilities
from synthetic.prompts import sample_prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    gens = list(GENERATORS.values())
    utilities = [[oracle_utilities(g.sample(rng), p) for g in gens] for p in sample_prompts(args.prompts, 0)]
    pairs = [(u[a], u[b]) for u in utilities for a, b in itertools.combinations(range(len(gens)), 2)]
    for kind, profile in ANNOTATOR_TYPES.items():
        parts = []
        for dim in ("VQ", "MQ", "TA", "Overall"):
            labels = [SIDE_TO_AB[draw_label(profile, a[dim], b[dim], rng)] for a, b in pairs]
            acc = oracle_accuracy(labels, [a[dim] for a, _ in pairs], [b[dim] for _, b in pairs]) \
                if any(x != "same" for x in labels) else {"with_ties": float("nan"), "without_ties": float("nan")}
            ties = labels.count("same") / len(labels)
            parts.append(f"{dim} {acc['with_ties']:.3f}/{acc['without_ties']:.3f} ties {ties:.0%}")
        print(f"{kind:12s} (w/ ties / w/o ties) " + "; ".join(parts))


if __name__ == "__main__":
    main()
