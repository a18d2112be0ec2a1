"""The checklist model: hand-solvable fits, non-negativity by dropping, scoring and reading the export."""
import json
import math

import numpy as np
import pytest

from rewards.checklist_model import (
    CHECKLIST_KEYS,
    ChecklistFormatError,
    evaluate_checklist_model,
    fit_checklist_model,
    fit_logistic,
    read_checklist_jsonl,
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


def test_reads_the_jsonl_export(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = [
        {"labels": {"VQ": "A", "MQ": "same", "TA": "B"},
         "checklist": {"A": {"VQ": []}, "B": {"VQ": ["clarity", "safety"], "TA": ["subject_relevance"]}}},
        {"labels": {"VQ": "weird"}, "checklist": {}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    data = read_checklist_jsonl(path)
    fa, fb, labels = data["VQ"]
    assert fb[0].tolist() == [0, 1, 0, 0, 1] and fa[0].tolist() == [0] * 5
    assert labels[0] == 1 and math.isnan(labels[1])
    assert data["TA"][1][0].tolist() == [1, 0, 0, 0, 0] and data["TA"][2][0] == -1
    assert data["MQ"][2][0] == 0
    path.write_text(json.dumps({"labels": {}, "checklist": {"A": {"VQ": ["blurry"]}}}) + "\n")
    with pytest.raises(ChecklistFormatError, match=r"export.jsonl:1: unknown VQ checklist key\(s\) \['blurry'\]"):
        read_checklist_jsonl(path)
