"""`python -m synthetic …`: make-dataset, annotate, render, analyse, calibrate-analyser."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from synthetic.annotators import ANNOTATOR_TYPES
from synthetic.generators import GENERATORS


def _defect_arg(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"defect must be NAME=SEVERITY, got {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synthetic", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    ds = sub.add_parser("make-dataset", help="videos + VideoAlign CSVs + oracle side files")
    ds.add_argument("--out", required=True, type=Path)
    ds.add_argument("--prompts", type=int, required=True, help="number of prompts")
    ds.add_argument("--generators", default=",".join(GENERATORS), help="comma-separated generator names")
    ds.add_argument("--seed", type=int, default=0)
    ds.add_argument("--no-labels", action="store_true", help="leave the label columns empty")
    ds.add_argument("--annotators", default="careful", help=f"comma-separated types from {tuple(ANNOTATOR_TYPES)}")
    ds.add_argument("--pairs-per-prompt", type=int, default=None)
    ds.add_argument("--frames", type=int, default=16)
    ds.add_argument("--fps", type=float, default=8.0)
    ds.add_argument("--size", type=int, default=64)
    ds.add_argument("--format", default="mp4", choices=("mp4", "webm"))
    ds.add_argument("--workers", type=int, default=None)

    an = sub.add_parser("annotate", help="drive simulated annotators through the platform's REST API")
    an.add_argument("--url", required=True)
    an.add_argument("--project", required=True)
    an.add_argument("--dataset", required=True, type=Path, help="make-dataset folder (for oracle.csv)")
    an.add_argument("--annotator", action="append", required=True, help="USER:PASS:TYPE (repeatable)")
    an.add_argument("--max", type=int, default=None, help="at most this many items per annotator")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--workers", type=int, default=None, help="annotators judged concurrently")
    an.add_argument("--perceive-unknown", action="store_true",
                    help="judge videos missing from oracle.csv through the pixel analyser instead of skipping them")
    an.add_argument("--follow", type=float, default=None, metavar="SECONDS",
                    help="when the queue is empty, wait and ask again instead of stopping")

    rd = sub.add_parser("render", help="render one clip")
    rd.add_argument("--prompt", required=True)
    rd.add_argument("--seed", type=int, default=0)
    rd.add_argument("--defect", action="append", type=_defect_arg, default=[], help="NAME=SEVERITY (repeatable)")
    rd.add_argument("--frames", type=int, default=16)
    rd.add_argument("--fps", type=float, default=8.0)
    rd.add_argument("--size", type=int, default=64)
    rd.add_argument("--out", required=True, type=Path)

    ay = sub.add_parser("analyse", help="judge a video against its prompt")
    ay.add_argument("video", type=Path)
    ay.add_argument("--prompt", required=True)

    cal = sub.add_parser("calibrate-analyser", help="refit the analyser's calibration")
    cal.add_argument("--clips", type=int, default=2400)
    cal.add_argument("--seed", type=int, default=1)
    cal.add_argument("--workers", type=int, default=2)
    return parser


def _make_dataset(args: argparse.Namespace) -> None:
    from synthetic.dataset import DatasetConfig, make_dataset
    from synthetic.render import RenderConfig

    config = DatasetConfig(
        n_prompts=args.prompts, generators=tuple(g for g in args.generators.split(",") if g), seed=args.seed,
        labels=not args.no_labels, annotators=tuple(a for a in args.annotators.split(",") if a),
        pairs_per_prompt=args.pairs_per_prompt, render=RenderConfig(args.frames, args.fps, args.size),
        fmt=args.format, workers=args.workers,
    )
    summary = make_dataset(args.out, config, progress=True)
    print(f"{summary.n_videos} videos, comparisons {summary.comparisons} in {summary.out_dir}")
    for dim, acc in summary.oracle.items():
        print(f"oracle {dim}: with ties {acc['with_ties']:.3f} (eps {acc['epsilon']:.3f}), "
              f"without ties {acc['without_ties']:.3f}")


def _annotate(args: argparse.Namespace) -> None:
    from synthetic.annotate_client import AnnotatorSpec, run_annotator
    from synthetic.dataset import read_oracle

    specs = [AnnotatorSpec.parse(text) for text in args.annotator]
    oracle = read_oracle(args.dataset)
    with ThreadPoolExecutor(max_workers=args.workers or len(specs)) as pool:
        summaries = list(pool.map(lambda s: run_annotator(args.url, args.project, oracle, s, args.seed, args.max,
                                                          args.perceive_unknown, args.follow), specs))
    for s in summaries:
        print(f"{s.username} ({s.kind}): submitted {s.submitted}, skipped {s.skipped}, lost leases {s.lost_leases}, "
              f"labels {dict(s.labels)}")


def _render(args: argparse.Namespace) -> None:
    from synthetic.defects import Defects
    from synthetic.video import render_video

    fmt = args.out.suffix.lstrip(".") or "mp4"
    render_video(args.prompt, args.seed, Defects.from_dict(dict(args.defect)), args.frames, args.fps, args.size,
                 fmt=fmt, path=args.out)
    print(args.out)


def _analyse(args: argparse.Namespace) -> None:
    from synthetic.analyser import analyse

    result = analyse(args.video, args.prompt)
    print(json.dumps({"attributes": result.attributes, "prompt_match": result.prompt_match,
                      "utilities": result.utilities, "tie_threshold": result.tie_threshold,
                      "defects": result.defects.to_dict(), "suspicious": result.suspicious}, indent=1))


def _calibrate(args: argparse.Namespace) -> None:
    from synthetic.calibrate import CALIBRATION_PATH, calibrate

    calibration = calibrate(args.clips, args.seed, args.workers, progress=True)
    print(f"calibration written to {CALIBRATION_PATH}; tie thresholds {calibration['tie_threshold']}")


COMMANDS = {"make-dataset": _make_dataset, "annotate": _annotate, "render": _render, "analyse": _analyse,
            "calibrate-analyser": _calibrate}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        COMMANDS[args.command](args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
