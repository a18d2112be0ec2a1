import csv

import numpy as np
import pytest
import torch

from alignment.dataset import PairData, prepare_pairs, prepare_samples
from alignment.generator import load_generator
from alignment.latents import ClipSpec, VideoMetadataError
from alignment.pairs import PairsError, ScoredSample, VideoRef, load_export_pairs
from alignment.video_io import write_video


def _clip(level: int, n_frames: int = 9) -> np.ndarray:
    return np.full((n_frames, 32, 32, 3), level, np.uint8)


def _export(tmp_path, frames_b: int = 9) -> tuple:
    write_video(tmp_path / "a.mp4", _clip(40))
    write_video(tmp_path / "b.mp4", _clip(200, frames_b))
    write_video(tmp_path / "c.mp4", _clip(120))
    path = tmp_path / "export.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "fps_A", "num_frames_A", "fps_B", "num_frames_B"])
        w.writerow(["a.mp4", "b.mp4", "red", "A", "A", "A", "8", "9", "8", "9"])
        w.writerow(["c.mp4", "b.mp4", "red", "B", "B", "B", "8", "9", "8", "9"])
        w.writerow(["a.mp4", "c.mp4", "blue", "A", "same", "same", "8", "9", "8", "9"])
    return path


def test_export_to_pair_tensors_encodes_each_video_once(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    pairs = load_export_pairs(_export(tmp_path), {"VQ": 1, "MQ": 1, "TA": 1}).pairs
    data = prepare_pairs(gen, pairs, ClipSpec(9, 32, 32), tmp_path / "cache")
    assert data.latents.shape == (3, 16, 3, 4, 4)  # a, b, c once each
    assert data.embeds.shape == (2, 16, 32)  # "red", "blue"
    # rows: (a beats b, red), (b beats c, red), (a beats c, blue)
    assert data.rows.tolist() == [[0, 1, 0], [1, 2, 0], [0, 2, 1]]
    batch = data.batch(torch.tensor([2]))
    assert torch.equal(batch["latents_w"][0], data.latents[0])
    assert torch.equal(batch["embeds"][0], gen.encode_prompts(["blue"])[0])


def test_mismatched_frame_count_is_reported_with_the_file(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    pairs = load_export_pairs(_export(tmp_path, frames_b=13), {"VQ": 1}).pairs
    with pytest.raises(VideoMetadataError, match="b.mp4: the export declares 9 frames, the file has 13"):
        prepare_pairs(gen, pairs, ClipSpec(9, 32, 32), tmp_path / "cache")


def test_pairs_of_different_shapes_are_rejected():
    with pytest.raises(PairsError, match="winner and loser latents differ in shape"):
        PairData.from_tensors(torch.zeros(2, 4, 3, 2, 2), torch.zeros(2, 4, 5, 2, 2), torch.zeros(2, 3, 8))
    with pytest.raises(PairsError, match="no decided preference pair"):
        prepare_pairs(None, [], ClipSpec(9, 32, 32), None)


def test_rwr_rewards_are_centred_per_prompt(tiny_model_dir, tmp_path):
    gen = load_generator(tiny_model_dir)
    for name in ("a", "b", "c"):
        write_video(tmp_path / f"{name}.mp4", _clip(100))
    samples = [
        ScoredSample("red", VideoRef(tmp_path / "a.mp4"), {"VQ": 5.0}),
        ScoredSample("red", VideoRef(tmp_path / "b.mp4"), {"VQ": 3.0}),
        ScoredSample("blue", VideoRef(tmp_path / "c.mp4"), {"VQ": -7.0}),
    ]
    data = prepare_samples(gen, samples, {"VQ": 2.0}, ClipSpec(9, 32, 32), tmp_path / "cache")
    # weighted rewards 10, 6, −14; prompt means red 8, blue −14 → 2, −2, 0
    assert data.rewards.tolist() == [2.0, -2.0, 0.0]
