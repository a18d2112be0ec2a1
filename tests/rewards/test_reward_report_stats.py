"""The numbers behind the learning bar and the ablation report, on hand-built cases: the oracle ceiling's
½ credit, paired differences and their verdicts, nested data fractions, and the MOS columns drawn for the
regression loss."""
import csv

import numpy as np
import pytest

from rewards.learning import subset_csv
from rewards.metrics import accuracy_without_ties
from rewards.report import paired_difference, verdict
from rewards.synthetic_world import compare_to_oracle, oracle_without_ties, split_truth, write_mos_split


def test_oracle_gets_half_credit_for_an_exact_zero_difference():
    # Decided pairs: right, wrong, zero difference (½); the human tie is left out.
    assert oracle_without_ties(np.array([0.5, -0.2, 0.0, 0.3]), np.array([1.0, 1.0, -1.0, 0.0])) == pytest.approx(0.5)


def test_paired_difference_of_a_perfect_and_a_reversed_model_is_exactly_one():
    labels = np.array([1.0, -1.0, 1.0, -1.0, 0.0, np.nan])
    perfect = np.array([1.0, -2.0, 0.5, -0.1, 0.0, 3.0])
    diff = paired_difference(accuracy_without_ties, perfect, -perfect, labels, n_boot=200)
    assert diff["difference"] == 1.0 and diff["ci95"] == (1.0, 1.0)
    same = paired_difference(accuracy_without_ties, perfect, perfect.copy(), labels, n_boot=200)
    assert same["difference"] == 0.0 and same["ci95"] == (0.0, 0.0)


def test_verdicts_claim_only_what_the_interval_shows():
    assert verdict({"difference": 0.02, "ci95": (0.005, 0.04)}, "X beats Y", "Y beats X").endswith("holds here")
    assert verdict({"difference": -0.02, "ci95": (-0.04, -0.01)}, "X beats Y", "Y beats X") == (
        "X beats Y: -2.0 points [-4.0, -1.0] — the opposite holds here (Y beats X)")
    text = verdict({"difference": 0.003, "ci95": (-0.01, 0.02)}, "X beats Y", "Y beats X")
    assert text == "X beats Y: +0.3 points [-1.0, +2.0] — not shown (the interval includes 0)"


def test_smaller_fractions_nest_in_larger_ones(tmp_path):
    source = tmp_path / "train.csv"
    source.write_text("path_A,prompt\n" + "".join(f"v{i}.mp4,p{i}\n" for i in range(50)))
    small = {r["path_A"] for r in csv.DictReader(subset_csv(source, tmp_path / "a.csv", 0.2).open())}
    large = {r["path_A"] for r in csv.DictReader(subset_csv(source, tmp_path / "b.csv", 0.6).open())}
    assert len(small) == 10 and len(large) == 30 and small < large


@pytest.fixture
def mini_world(tmp_path):
    """Three videos, two labelled rows of a test split: by hand."""
    with (tmp_path / "oracle.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "VQ", "MQ", "TA", "Overall"])
        w.writerows([["a.mp4", 0, 0, 0, 0], ["b.mp4", -10, -1, 0, -11], ["c.mp4", -0.5, -1, -2, -3.5]])
    with (tmp_path / "annotations.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["split", "path_A", "path_B", "annotator", "lead_time_ms"])
        w.writerows([["test", "a.mp4", "b.mp4", "careful", 1], ["test", "c.mp4", "a.mp4", "lazy", 1]])
    with (tmp_path / "test.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "Overall"])
        w.writerows([["a.mp4", "b.mp4", "p", "A", "A", "same", "A"], ["c.mp4", "a.mp4", "q", "A", "B", "B", "B"]])
    return tmp_path


def test_mos_columns_are_drawn_by_each_rows_annotator(mini_world):
    rows = list(csv.DictReader(write_mos_split(mini_world, "test", seed=0).open()))
    # Careful annotator, VQ utility −10: 5 + 4·(−10)/2 = −15 plus small noise, clipped to 1.
    assert rows[0]["VQ_mos_B"] == "1"
    # The lazy annotator gives every video 3.
    assert all(rows[1][f"{d}_mos_{s}"] == "3" for d in ("VQ", "MQ", "TA") for s in ("A", "B"))
    assert rows[0]["prompt"] == "p" and rows[1]["VQ"] == "A"


def test_oracle_comparison_on_a_hand_built_split(mini_world):
    truth = split_truth(mini_world, "test")
    assert truth.annotators == ["careful", "lazy"]
    assert list(truth.oracle_margins["TA"]) == [0.0, -2.0]
    # VQ: true margins +10 (label A, right) and −0.5 (label A, wrong) → oracle ½; a model right on both → 1.
    out = compare_to_oracle({d: np.array([1.0, 1.0]) for d in ("VQ", "MQ", "TA")}, truth, n_boot=100)
    assert out["VQ"]["oracle_without_ties"] == 0.5 and out["VQ"]["model_without_ties"] == 1.0
    assert out["VQ"]["gap_without_ties"] == -0.5
    # TA: the decided pair (label B, true margin −2) is right for the oracle, wrong for a +1 margin.
    assert out["TA"]["n_decided"] == 1 and out["TA"]["oracle_without_ties"] == 1.0
    assert out["TA"]["model_without_ties"] == 0.0
