"""`python -m rewards …`: scoring and evaluation through the CLI agree with the library; bad input exits 2
with a one-line reason."""
import csv
import json
import subprocess
import sys

import pytest

from rewards.cli import main
from rewards.data import read_pairs, split_by_prompt
from rewards.scorer import RewardScorer


@pytest.fixture(scope="module")
def val_csv(dataset, tmp_path_factory):
    """The held-out rows of the training run's data as their own CSV (same media folder)."""
    _, val_records = split_by_prompt(read_pairs(dataset), 0.4, seed=0)
    val_prompts = {r.prompt for r in val_records}
    with dataset.open(newline="") as fh:
        rows = list(csv.reader(fh))
    path = dataset.parent / "val.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([rows[0]] + [r for r in rows[1:] if r[2] in val_prompts])
    return path


def test_bad_config_exits_2_with_one_line_reason(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rewards", "train", "--data", "x.csv", "--config",
                           str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: config file not found: {tmp_path / 'none.toml'}"


def test_bad_inputs_exit_2(tmp_path, capsys, run):
    assert main(["evaluate", "--model", str(tmp_path), "--data", "x.csv", "--out", str(tmp_path)]) == 2
    assert "not a reward checkpoint" in capsys.readouterr().err
    bad = tmp_path / "in.csv"
    bad.write_text("video,text\na.mp4,x\n")
    assert main(["score", "--model", str(run[0].model_dir), "--input", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {bad}: needs columns 'path' and 'prompt'"


def test_score_command_writes_the_scorers_numbers(run, dataset, tmp_path):
    model_dir = run[0].model_dir
    source = tmp_path / "videos.csv"
    source.write_text("path,prompt\nv0.mp4,scene number 0\nv4.mp4,scene number 4\n")
    out = tmp_path / "scores.csv"
    assert main(["score", "--model", str(model_dir), "--input", str(source), "--media", str(dataset.parent),
                 "--out", str(out)]) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    expected = RewardScorer.from_pretrained(model_dir).score(
        [dataset.parent / "v0.mp4", dataset.parent / "v4.mp4"], ["scene number 0", "scene number 4"])
    for row, exp in zip(rows, expected, strict=True):
        for key in ("VQ", "MQ", "TA", "Overall"):
            assert float(row[key]) == pytest.approx(exp[key], abs=1e-5)
    assert float(rows[1]["VQ"]) > float(rows[0]["VQ"])  # the brighter clip scores higher, as trained


def test_evaluate_command_reproduces_the_validation_report(run, val_csv, tmp_path):
    result = run[0]
    assert main(["evaluate", "--model", str(result.model_dir), "--data", str(val_csv), "--out", str(tmp_path),
                 "--bootstrap", "50"]) == 0
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved["skipped_pairs"] == 1 and saved["skipped_files"][0].endswith("missing.mp4")
    for dim in ("VQ", "MQ", "TA", "Overall"):
        got, want = saved["report"][dim], result.val_report[dim]
        assert got["with_ties"] == pytest.approx(want["with_ties"])
        assert got["without_ties"] == pytest.approx(want["without_ties"])
        low, high = got["without_ties_ci95"]
        assert low <= got["without_ties"] <= high
    for name in ("reliability.png", "margin_distribution.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (tmp_path / "margins.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == saved["n_pairs"] == 10


def test_checklist_command_fits_non_negative_weights(tmp_path):
    lines = []
    for i in range(40):  # "clarity" problems decide the VQ label; nothing else is ticked
        a_blurry = i % 2 == 0
        lines.append({"labels": {"VQ": "B" if a_blurry else "A", "MQ": "same", "TA": "same"},
                      "checklist": {"A": {"VQ": ["clarity"] if a_blurry else []},
                                    "B": {"VQ": [] if a_blurry else ["clarity"]}}})
    data = tmp_path / "export.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in lines))
    out = tmp_path / "checklist.json"
    assert main(["checklist", "--data", str(data), "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    weights = summary["VQ"]["weights"]
    assert weights["clarity"] > 1.0 and all(w >= 0 for w in weights.values())
    assert summary["VQ"]["without_ties"] == 1.0
    assert summary["MQ"] == {"skipped": "no decided (A or B) pairs in the export"}
