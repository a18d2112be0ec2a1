"""A tiny ablation report end to end: every method row and the oracle row carry accuracies in [0, 100], every
run of Table 3 and Fig. 3 is there, each paper claim gets a verdict per dimension, and the figures exist."""
import json
import re

from rewards.report import METHODS, ReportConfig, run_report
from rewards.synthetic_world import WorldConfig, ensure_world
from tests.rewards.conftest import TINY_PRETRAIN


def test_tiny_report_has_every_row_and_a_verdict_per_claim(pretrained_tiny_base, tmp_path):
    _, pretrained, _ = pretrained_tiny_base
    world = ensure_world(WorldConfig(n_prompts=6, pairs_per_prompt=3, generators=("atlas-pro", "legacy-gan",
                                                                                  "soft-focus"),
                                     split=(0.5, 0.25, 0.25), size=TINY_PRETRAIN.size, frames=TINY_PRETRAIN.frames,
                                     fps=TINY_PRETRAIN.fps, workers=1), root=tmp_path / "world")
    result = run_report(tmp_path / "report", ReportConfig(fractions=(1.0,), n_boot=100),
                        base_dir=pretrained.directory, world_dir=world)
    text = (tmp_path / "report" / "report.md").read_text()
    table3 = text.split("## Table 3")[1].split("## Fig. 3")[0]
    for name in [*METHODS, "Oracle (true utilities)"]:
        row = next(line for line in table3.splitlines() if line.startswith(f"| {name} |"))
        # 8 cells (4 dimensions × with/without ties), each "value [low, high]" in percent.
        cells = re.findall(r"(\d+\.\d) \[(\d+\.\d), (\d+\.\d)\]", row)
        assert len(cells) == 8, row
        assert all(0.0 <= float(x) <= 100.0 for cell in cells for x in cell)
        assert all(float(lo) <= float(hi) for _, lo, hi in cells)
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert set(saved["runs"]) == {f"{m} @ 1" for m in METHODS} == set(result.runs)
    # Full data only (fractions take a minute more): four claims per dimension (VQ, MQ, TA, Overall).
    verdicts = [f for f in result.findings if f.startswith("- ")]
    assert len(verdicts) == 16
    assert all(("holds here" in v) or ("not shown" in v) or ("opposite" in v) or ("not measurable" in v)
               for v in verdicts)
    for name in ("table3.png", "fig3_fraction_without_ties.png", "fig3_fraction_with_ties.png",
                 "fig4_tie_margins.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000
