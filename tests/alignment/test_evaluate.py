"""evaluate: the Table-4 win rates on a tiny case computed by hand, the gate, and an end-to-end run."""
import json

import numpy as np
import pytest

from alignment.config import TrainConfig
from alignment.evaluate import Arm, Judgement, SampleSettings, compare, evaluate, format_table, gate_rate
from alignment.generator import load_generator
from alignment.train import add_lora, save_lora
from alignment.world.onpolicy import Comparison, preference_pairs


def _j(vq, mq, ta, noise=0.1, checks=(True, True, True)):
    return Judgement({"VQ": vq, "MQ": mq, "TA": ta}, {"VQ": noise, "MQ": noise, "TA": noise},
                     dict(zip(("color", "shape", "direction"), checks, strict=True)))


def test_win_rates_with_ties_within_the_measurement_noise_by_hand():
    base = [_j(-1.0, -0.5, 0.0), _j(-0.8, -0.5, 0.0), _j(-0.6, -0.2, -0.3), _j(-0.2, 0.0, 0.0)]
    arm = [_j(-0.5, -0.45, 0.0), _j(-0.85, -0.9, 0.0), _j(-0.1, -0.2, 0.0), _j(-0.5, 0.0, -0.05, noise=0.2)]
    table = compare(arm, base)
    # VQ diffs +0.5, −0.05, +0.5, −0.3 (last pair's noise is 0.2): win, tie, win, loss → (2 + ½)/4
    assert (table["VQ"].wins, table["VQ"].ties, table["VQ"].losses) == (2, 1, 1)
    assert table["VQ"].rate == pytest.approx(0.625)
    # MQ diffs +0.05, −0.4, 0, 0 → tie, loss, tie, tie → 1.5/4
    assert table["MQ"].rate == pytest.approx(0.375)
    # TA diffs 0, 0, +0.3, −0.05 → tie, tie, win, tie → 2.5/4; effect size = mean / sd of the differences
    assert table["TA"].rate == pytest.approx(0.625)
    assert table["TA"].effect_size == pytest.approx(np.mean([0, 0, 0.3, -0.05]) / np.std([0, 0, 0.3, -0.05], ddof=1))
    assert "62.5%" in format_table_for(table)


def format_table_for(table):
    from alignment.evaluate import ArmResult, EvalReport

    gate = gate_rate([_j(0, 0, 0)] * 2)
    report = EvalReport(["p"], [0], gate, {"VQ": 0, "MQ": 0, "TA": 0}, [ArmResult("dpo", table, gate,
                        {"VQ": 0, "MQ": 0, "TA": 0})], 0.0, 0.0)
    return format_table(report)


def test_gate_needs_every_check_right():
    gate = gate_rate([_j(0, 0, 0), _j(0, 0, 0, checks=(True, False, True)), _j(0, 0, 0), _j(0, 0, 0)])
    assert gate.rate == 0.75 and gate.per_check == {"color": 1.0, "shape": 0.75, "direction": 1.0}


def test_milder_losers_drop_broken_losers():
    class A:  # an analysis with what preference_pairs reads
        def __init__(self, vq, suspicious=()):
            self.utilities, self.suspicious = {"VQ": vq, "MQ": 0.0, "TA": 0.0}, list(suspicious)

    class S:
        analyses = [A(-0.1), A(-0.5), A(-2.0), A(-0.3, ["background"])]

    comps = [Comparison(0, 1, {"VQ": "A", "MQ": "same"}), Comparison(2, 0, {"VQ": "B", "MQ": "A"}),
             Comparison(1, 3, {"VQ": "same", "MQ": "same"}), Comparison(3, 1, {"VQ": "B", "MQ": "B"})]
    assert preference_pairs(comps, {"VQ": 1.0}) == [(0, 1), (0, 2), (1, 3)]
    assert preference_pairs(comps, {"VQ": 1.0, "MQ": 1.0}) == [(0, 1), (1, 3)]
    # the loser of (0, 2) is far below the floor, the loser 3 is flagged: both dropped
    assert preference_pairs(comps, {"VQ": 1.0}, S(), loser_floor={"VQ": -1.0}) == [(0, 1)]


def test_an_adapter_that_changes_nothing_ties_everywhere(tiny_unshuffle_model_dir, tmp_path):
    generator = load_generator(tiny_unshuffle_model_dir)
    add_lora(generator.transformer, TrainConfig(method="sft", lora={"rank": 2, "alpha": 2}))
    lora = save_lora(generator.transformer, tmp_path / "zero_lora")  # B = 0: the same network

    def judge(frames, prompt):
        return _j(float(frames.mean()) / 255 - 1, float(frames.std()) / -255, 0.0, noise=0.0)

    settings = SampleSettings(num_frames=3, height=8, width=8, steps=2, cfg=2.0, chunk=3)
    report = evaluate(tiny_unshuffle_model_dir, [Arm("zero", lora=lora)], ["a red circle", "a blue star"],
                      [0, 1], settings, judge, tmp_path / "eval", grid_items=2)
    table = report.arms[0].table
    assert all(table[d].ties == 4 and table[d].rate == 0.5 for d in ("VQ", "MQ", "TA"))
    assert report.base_gate.rate == 1.0
    saved = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert saved["arms"][0]["name"] == "zero" and (tmp_path / "eval" / "grid_zero.png").stat().st_size > 0
    assert "| zero |" in (tmp_path / "eval" / "report.md").read_text()


def test_bad_arms_are_refused():
    with pytest.raises(ValueError, match="needs a LoRA or guidance"):
        Arm("nothing")
    with pytest.raises(ValueError, match="needs a reward model"):
        Arm("g", guidance={"VQ": 1.0})
