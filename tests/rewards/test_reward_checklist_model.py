"""The checklist model: hand-solvable fits, non-negativity by dropping, scoring and reading the export."""
import json
import math
import re

import numpy as np
import pytest

from rewards.checklist_export import ChecklistFormatError, read_checklist_jsonl
from rewards.checklist_model import (
    CHECKLIST_KEYS,
    evaluate_checklist_model,
    fit_checklist_model,
    fit_logistic,
)


def test_single_item_fit_has_the_closed_form_weight():
    # Four pairs where A has the problem and B does not (x = fB − fA = −1); A still wins once.
    # P(A≻B) = σ(−w) = 1/4 at the optimum → w = ln 3.
    x = -np.ones((4, 1))
    y = np.array([1.0, 0.0, 0.0, 0.0])
    assert fit_logistic(x, y, l2=0.0)[0] == pytest.approx(math.log(3), abs=1e-4)


def test_negative_items_are_dropped_and_real_problems_get_the_weight():
    rng = np.random.default_rng(0)
    n = 3000
    keys = CHECKLIST_KEYS["VQ"]
    fa = rng.integers(0, 2, (n, 5)).astype(float)
    fb = rng.integers(0, 2, (n, 5)).astype(float)
    true_w = np.array([2.0, 1.0, 0.0, 0.0, -1.5])  # the last "problem" actually wins pairs
    p_a = 1 / (1 + np.exp(-(fb - fa) @ true_w))
    labels = np.where(rng.random(n) < p_a, 1.0, -1.0)
    model = fit_checklist_model("VQ", fa, fb, labels)
    assert model.dropped[0] == keys[4]
    assert all(w >= 0 for w in model.weights)
    assert model.weights[4] == 0.0
    assert model.weights[0] == pytest.approx(2.0, abs=0.25)
    assert model.weights[1] == pytest.approx(1.0, abs=0.25)
    assert max(model.weights[2], model.weights[3]) < 0.25


def test_scores_and_accuracy_from_checklists_alone():
    # Fitted on pairs where only item 0 matters; then on four hand-made pairs:
    # pair 0: A clean, B has item 0 → margin w0 > 0, label A: right.
    # pair 1: both clean → margin 0, label same: a model tie at ε = 0 → right with ties.
    # pair 2: A has item 0 → margin −w0, label A: wrong.   pair 3: B has item 0, label B: wrong.
    fa_fit = np.array([[0, 0, 0, 0, 0], [1, 0, 0, 0, 0]] * 10, dtype=float)
    fb_fit = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]] * 10, dtype=float)
    model = fit_checklist_model("VQ", fa_fit, fb_fit, [1, -1] * 10)
    assert model.weights[0] > 0 and model.video_scores(np.eye(5)[:1])[0] == -model.weights[0]
    fa = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=float)
    fb = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=float)
    result = evaluate_checklist_model(model, fa, fb, [1, 0, 1, -1])
    # ε = 0: pairs 0 (C) and 1 (Thm) right → 2/4; without ties: pairs 0, 2, 3 → 1/3.
    assert result.with_ties == pytest.approx(2 / 4) and result.epsilon == 0.0
    assert result.without_ties == pytest.approx(1 / 3)


def test_reads_the_older_nested_labels_form_and_learns_the_items_from_the_ticks(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = [
        {"labels": {"VQ": "A", "MQ": "same", "TA": "B"},
         "checklist": {"A": {"VQ": []}, "B": {"VQ": ["clarity", "safety"], "TA": ["subject_relevance"]}}},
        {"labels": {"VQ": "weird"}, "checklist": {"A": {"VQ": ["blurry"]}}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    data = read_checklist_jsonl(path)
    # Only the ticked items, sorted; "blurry" is not a default key but a project may define it.
    assert data["VQ"].keys == ("blurry", "clarity", "safety")
    assert data["VQ"].flags_b.tolist() == [[0, 1, 1], [0, 0, 0]]
    assert data["VQ"].flags_a.tolist() == [[0, 0, 0], [1, 0, 0]]
    assert data["VQ"].labels[0] == 1 and math.isnan(data["VQ"].labels[1])  # an unknown word is a missing label
    assert data["TA"].keys == ("subject_relevance",) and data["TA"].flags_b.tolist() == [[1], [0]]
    assert data["TA"].labels[0] == -1 and math.isnan(data["TA"].labels[1])
    assert data["MQ"].keys == () and data["MQ"].flags_a.shape == (2, 0) and data["MQ"].labels[0] == 0


def test_reads_the_platform_export_form(tmp_path):
    # The shape JsonlWriter writes: labels at the top level, Overall "" when the project does not ask for it.
    path = tmp_path / "export.jsonl"
    line = {"comparison": 7, "judgement": 9, "prompt": "a cat", "path_A": "a.mp4", "path_B": "b.mp4",
            "VQ": "B", "MQ": "A", "TA": "same", "Overall": "", "left": "A",
            "checklist": {"A": {"VQ": ["vr03_is_the_composition"], "MQ": ["vr16_shape"]}, "B": {"MQ": ["vr19_motion"]}},
            "mos": {}, "split": ""}
    path.write_text(json.dumps(line, separators=(",", ":")) + "\n\n" + json.dumps(line | {"checklist": {}}) + "\n")
    data = read_checklist_jsonl(path)
    assert data["VQ"].keys == ("vr03_is_the_composition",)
    assert data["VQ"].flags_a.tolist() == [[1], [0]] and data["VQ"].flags_b.tolist() == [[0], [0]]
    assert data["MQ"].keys == ("vr16_shape", "vr19_motion")
    assert data["MQ"].flags_a.tolist() == [[1, 0], [0, 0]] and data["MQ"].flags_b.tolist() == [[0, 1], [0, 0]]
    assert data["VQ"].labels.tolist() == [-1, -1] and data["MQ"].labels.tolist() == [1, 1]
    assert data["TA"].labels.tolist() == [0, 0] and data["TA"].keys == ()


GOOD = {"VQ": "A", "MQ": "B", "TA": "same", "checklist": {"B": {"VQ": ["clarity"]}}}


@pytest.mark.parametrize("bad,reason", [
    ("{not json", r"not valid JSON \(Expecting property name enclosed in double quotes at column 2\)"),
    ("[1, 2]", "expected a JSON object \\(one judgement\\), got list"),
    (json.dumps({"prompt": "a cat", "checklist": {}}), "no labels: expected the keys VQ, MQ, TA"),
    (json.dumps({"labels": ["A"]}), "'labels' must be an object keyed by dimension, got list"),
    (json.dumps(GOOD | {"VQ": 1}), "the VQ label must be a string \\(A, B or same\\), got 1"),
    (json.dumps(GOOD | {"checklist": ["clarity"]}), "'checklist' must be an object keyed by side"),
    (json.dumps(GOOD | {"checklist": {"left": {"VQ": ["clarity"]}}}), "checklist side 'left' is not A or B"),
    (json.dumps(GOOD | {"checklist": {"A": ["clarity"]}}), "checklist A must be an object keyed by dimension"),
    (json.dumps(GOOD | {"checklist": {"A": {"Overall": ["x"]}}}), "unknown checklist dimension 'Overall' under A"),
    (json.dumps(GOOD | {"checklist": {"B": {"VQ": "clarity"}}}), "checklist B.VQ must be a list of item keys"),
    (json.dumps(GOOD | {"checklist": {"B": {"VQ": [3]}}}), "checklist B.VQ must be a list of item keys"),
])
def test_a_malformed_line_is_named_with_its_number_and_what_is_wrong(tmp_path, bad, reason):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + bad + "\n" + json.dumps(GOOD) + "\n")  # line 2 is blank
    with pytest.raises(ChecklistFormatError, match=f"^{re.escape(str(path))}:3: {reason}"):
        read_checklist_jsonl(path)


def test_an_empty_export_is_an_error(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text("\n")
    with pytest.raises(ChecklistFormatError, match="no judgements"):
        read_checklist_jsonl(path)
