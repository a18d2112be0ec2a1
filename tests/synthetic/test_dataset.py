import csv
import hashlib

import pytest

from synthetic.dataset import SPLIT_COLUMNS, DatasetConfig, DatasetError, make_dataset, read_oracle
from synthetic.encode import decode_video

GENERATORS = ("atlas-pro", "soft-focus", "crisp-jitter")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    summary = make_dataset(out, DatasetConfig(n_prompts=6, generators=GENERATORS, seed=4, workers=1))
    return out, summary


def _rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_split_files_have_the_videoalign_columns_in_order(dataset):
    out, summary = dataset
    for split in ("train", "val", "test"):
        with (out / f"{split}.csv").open() as handle:
            assert handle.readline().strip() == ",".join(SPLIT_COLUMNS)
    # 6 prompts × 3 pairs of 3 generators.
    assert sum(summary.comparisons.values()) == 18
    assert summary.n_videos == 18


def test_rows_are_labelled_and_point_at_real_videos(dataset):
    out, _ = dataset
    rows = [r for s in ("train", "val", "test") for r in _rows(out / f"{s}.csv")]
    for row in rows:
        assert {row[d] for d in ("VQ", "MQ", "TA", "Overall")} <= {"A", "B", "same"}
        assert (row["fps_A"], row["num_frames_A"], row["fps_B"], row["num_frames_B"]) == ("8.0", "16.0", "8.0", "16.0")
        assert {row["A_model"], row["B_model"]} <= set(GENERATORS) and row["A_model"] != row["B_model"]
    video = decode_video(out / rows[0]["path_A"])
    assert (video.num_frames, video.fps) == (16, 8.0)


def test_split_is_by_prompt(dataset):
    out, _ = dataset
    seen = {}
    for split in ("train", "val", "test"):
        for row in _rows(out / f"{split}.csv"):
            assert seen.setdefault(row["prompt"], split) == split
    assert set(seen.values()) == {"train", "val", "test"}
    prompts = _rows(out / "prompts.csv")
    assert {p["prompt"]: p["split"] for p in prompts} == seen


def test_oracle_side_file_identifies_videos_by_content(dataset):
    out, _ = dataset
    oracle = read_oracle(out)
    assert len(oracle) == 18
    for sha, entry in oracle.items():
        assert hashlib.sha256((out / entry.path).read_bytes()).hexdigest() == sha
        expected_vq = -sum(w * getattr(entry.defects, k) for k, w in
                           {"blur": 1.0, "noise": 1.0, "blockiness": 0.8, "low_contrast": 0.7, "pixelation": 0.9}.items())
        assert entry.utilities["VQ"] == pytest.approx(expected_vq, abs=1e-5)


def test_without_labels_the_label_columns_are_empty(tmp_path):
    make_dataset(tmp_path, DatasetConfig(n_prompts=3, generators=GENERATORS[:2], seed=1, labels=False, workers=1))
    rows = [r for s in ("train", "val", "test") for r in _rows(tmp_path / f"{s}.csv")]
    assert len(rows) == 3
    assert all(r[d] == "" for r in rows for d in ("VQ", "MQ", "TA", "Overall"))


def test_bad_settings_name_the_problem():
    with pytest.raises(DatasetError, match="two generators"):
        DatasetConfig(n_prompts=3, generators=("atlas-pro",))
    with pytest.raises(ValueError, match="unknown generator"):
        DatasetConfig(n_prompts=3, generators=("atlas-pro", "sora"))
