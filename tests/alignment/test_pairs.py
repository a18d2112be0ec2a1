import csv

import numpy as np
import pytest

from alignment.pairs import (
    PairsError,
    ScoredSample,
    VideoRef,
    load_export_pairs,
    pairs_from_scored_samples,
    parse_weights,
    write_pairs_csv,
)

HEADER = ["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "fps_A", "num_frames_A", "fps_B", "num_frames_B"]


def _export(tmp_path, rows, header=HEADER):
    (tmp_path / "videos").mkdir(exist_ok=True)
    for row in rows:
        for p in row[:2]:
            (tmp_path / p).touch()
    path = tmp_path / "export.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


ROWS = [
    ["videos/1a.mp4", "./videos/1b.mp4", "p1", "A", "B", "A", "24", "9", "24", "9"],  # 1:1:1 → +1, A wins
    ["videos/2a.mp4", "videos/2b.mp4", "p2", "same", "same", "B", "24", "9", "", ""],  # → −1, B wins
    ["videos/3a.mp4", "videos/3b.mp4", "p3", "A", "B", "same", "24", "9", "24", "9"],  # → 0, undecided
    ["videos/4a.mp4", "videos/4b.mp4", "p4", "A", "A", "maybe", "24", "9", "24", "9"],  # TA invalid
]


def test_weighted_preference_decides_the_winner(tmp_path):
    result = load_export_pairs(_export(tmp_path, ROWS), parse_weights("1:1:1"))
    assert (result.rows, result.undecided, result.invalid) == (4, 1, 1)
    first, second = result.pairs
    assert first.winner.path == tmp_path / "videos/1a.mp4" and first.preference == 1.0
    assert first.winner.fps == 24.0 and first.winner.num_frames == 9
    assert second.winner.path == tmp_path / "videos/2b.mp4"
    assert second.winner.num_frames is None  # an empty cell is "not declared", not zero
    assert second.labels["TA"] == "A"  # labels are re-expressed with the winner as A


def test_weights_change_the_decision(tmp_path):
    export = _export(tmp_path, ROWS)
    # MQ only: row 1 → B wins, row 2 → same (undecided), row 3 → B wins, row 4 → A wins (TA unweighted)
    result = load_export_pairs(export, parse_weights("VQ=0,MQ=1,TA=0"))
    assert [p.prompt for p in result.pairs] == ["p1", "p3", "p4"]
    assert result.pairs[0].winner.path.name == "1b.mp4"
    # VQ 2 : MQ 1 : TA 0 on row 3: 2·(+1) + 1·(−1) = +1 → A wins by 1
    row3 = [p for p in load_export_pairs(export, {"VQ": 2, "MQ": 1}).pairs if p.prompt == "p3"]
    assert row3[0].winner.path.name == "3a.mp4" and row3[0].preference == 1.0


def test_missing_video_file_is_a_clear_error(tmp_path):
    export = _export(tmp_path, ROWS)
    (tmp_path / "videos/2b.mp4").unlink()
    with pytest.raises(PairsError, match=r"export.csv:3: path_B video file not found: .*2b.mp4"):
        load_export_pairs(export, parse_weights("1:1:1"))


def test_bad_columns_and_numbers(tmp_path):
    with pytest.raises(PairsError, match="missing column\\(s\\) TA"):
        load_export_pairs(_export(tmp_path, [], header=HEADER[:5]), {"TA": 1})
    bad = [["videos/1a.mp4", "videos/1b.mp4", "p", "A", "A", "A", "fast", "9", "24", "9"]]
    with pytest.raises(PairsError, match="export.csv:2: fps_A 'fast' is not a number"):
        load_export_pairs(_export(tmp_path, bad), {"VQ": 1})
    with pytest.raises(PairsError, match="pairs file not found"):
        load_export_pairs(tmp_path / "nope.csv", {"VQ": 1})


def test_parse_weights():
    assert parse_weights("VQ=1, MQ=0.5,TA=0") == {"VQ": 1.0, "MQ": 0.5, "TA": 0.0}
    assert parse_weights("1:0:2") == {"VQ": 1.0, "MQ": 0.0, "TA": 2.0}
    with pytest.raises(PairsError, match="unknown dimension 'XQ'"):
        parse_weights("XQ=1")
    with pytest.raises(PairsError, match="at least one weight"):
        parse_weights("0:0:0")


def test_best_against_worst_per_prompt(tmp_path):
    def sample(prompt, name, vq, ta):
        return ScoredSample(prompt, VideoRef(tmp_path / name), {"VQ": vq, "TA": ta})

    samples = [
        sample("p", "a.mp4", 1.0, 0.0),  # weighted 1:1 → 1.0
        sample("p", "b.mp4", 0.0, 3.0),  # 3.0, best
        sample("p", "c.mp4", -1.0, 0.5),  # −0.5, worst
        sample("q", "d.mp4", 1.0, 1.0),  # a tie with e: dropped
        sample("q", "e.mp4", 2.0, 0.0),
        sample("r", "f.mp4", 1.0, 1.0),  # alone: dropped
    ]
    pairs = pairs_from_scored_samples(samples, {"VQ": 1, "TA": 1})
    assert len(pairs) == 1
    (pair,) = pairs
    assert (pair.winner.path.name, pair.loser.path.name) == ("b.mp4", "c.mp4")
    assert pair.preference == pytest.approx(3.5)
    # per-dimension labels: VQ 0 > −1 → A, TA 3 > 0.5 → A; Overall records the weighted decision
    assert pair.labels == {"VQ": "A", "TA": "A", "Overall": "A"}
    # by VQ alone the best is a (1.0) and the worst c (−1.0)
    (by_vq,) = pairs_from_scored_samples(samples[:3], {"VQ": 1})
    assert (by_vq.winner.path.name, by_vq.loser.path.name) == ("a.mp4", "c.mp4")


def test_written_pairs_read_back_with_overall(tmp_path):
    for name in ("w.mp4", "l.mp4"):
        (tmp_path / name).touch()
    pair = pairs_from_scored_samples(
        [ScoredSample("p", VideoRef(tmp_path / "w.mp4", 8.0, 9), {"VQ": 2.0, "TA": -1.0}),
         ScoredSample("p", VideoRef(tmp_path / "l.mp4", 8.0, 9), {"VQ": 0.0, "TA": 0.0})],
        {"VQ": 1, "TA": 1},
    )
    path = write_pairs_csv(pair, tmp_path / "pairs.csv")
    (back,) = load_export_pairs(path, {"Overall": 1}).pairs
    assert back.winner == VideoRef(tmp_path / "w.mp4", 8.0, 9)
    assert back.labels["TA"] == "B"  # the winner lost on TA alone
    assert np.isclose(back.preference, 1.0)


def test_split_by_prompt_keeps_prompts_disjoint(tmp_path):
    from alignment.pairs import PreferencePair, split_by_prompt

    ref = VideoRef(tmp_path / "x.mp4")
    pairs = [PreferencePair(f"prompt {i % 20}", ref, ref, 1.0) for i in range(200)]
    train, heldout = split_by_prompt(pairs, 0.25, seed=1)
    assert len(train) + len(heldout) == 200
    assert not {p.prompt for p in train} & {p.prompt for p in heldout}
    assert 2 <= len({p.prompt for p in heldout}) <= 10  # about a quarter of 20 prompts
    assert split_by_prompt(pairs, 0.25, seed=1) == (train, heldout)  # deterministic
    assert split_by_prompt(pairs, 0.0) == (pairs, [])
