"""Frame sampling, resizing and the Qwen2-VL patch layout, on real encoded clips and hand-built arrays."""
import logging

import numpy as np
import pytest

from rewards.clip_cache import ClipCache
from rewards.config import VideoConfig
from rewards.video_input import (
    CLIP_MEAN,
    CLIP_STD,
    VideoDecodeError,
    patchify,
    probe,
    resized_shape,
    sample_frames,
)
from tests.rewards.reward_clips import QUADRANT_COLOURS, indexed_clip, quadrant_frame, read_index, write_clip

SMALL = VideoConfig(min_pixels=28 * 28, max_pixels=56 * 56)


@pytest.mark.parametrize(
    ("name", "num_frames", "fps", "expected"),
    [
        # 72 frames at 24 fps = 3 s → 3·2 = 6 frames: linspace(0, 71, 6) = 0, 14.2, 28.4, 42.6, 56.8, 71.
        ("a.mp4", 72, 24, [0, 14, 28, 43, 57, 71]),
        # webm declares no frame count: 30 decoded frames at 10 fps = 3 s → linspace(0, 29, 6).
        ("b.webm", 30, 10, [0, 6, 12, 17, 23, 29]),
        # 40 frames at 8 fps = 5 s → 10 frames: 0, 4.33, 8.67, 13, 17.33, 21.67, 26, 30.33, 34.67, 39.
        ("c.mp4", 40, 8, [0, 4, 9, 13, 17, 22, 26, 30, 35, 39]),
        # 6 frames at 12 fps = 0.5 s → 1 frame, rounded to even 0, raised to min_frames 4: 0, 1.67, 3.33, 5.
        ("d.webm", 6, 12, [0, 2, 3, 5]),
    ],
)
def test_sampling_picks_the_right_timestamps(tmp_path, name, num_frames, fps, expected):
    path = indexed_clip(tmp_path / name, num_frames, fps)
    info = probe(path)
    assert (info.fps, info.num_frames) == (fps, num_frames)
    sampled = sample_frames(path, SMALL)
    assert sampled.indices.tolist() == expected
    # The decoded pictures really are those frames (each frame spells its index in 14×14 blocks).
    assert [read_index(f) for f in sampled.frames] == expected
    assert sampled.timestamps == pytest.approx(np.array(expected) / fps)


def test_wrong_declared_fps_does_not_shift_sampling(tmp_path, caplog):
    path = indexed_clip(tmp_path / "a.mp4", 72, 24)
    with caplog.at_level(logging.WARNING, logger="rewards.video_input"):
        sampled = sample_frames(path, SMALL, declared_fps=30.0)
    assert sampled.indices.tolist() == [0, 14, 28, 43, 57, 71]
    assert "declared fps 30.000 differs" in caplog.text and "a.mp4" in caplog.text


def test_max_frames_caps_the_count(tmp_path):
    # 6 frames wanted, capped to 4: linspace(0, 71, 4) = 0, 23.67, 47.33, 71.
    path = indexed_clip(tmp_path / "a.mp4", 72, 24)
    sampled = sample_frames(path, VideoConfig(min_pixels=784, max_pixels=3136, max_frames=4))
    assert [read_index(f) for f in sampled.frames] == [0, 24, 47, 71]


def test_resized_shape_keeps_aspect_within_pixel_bounds():
    # Already fine: 56×56 stays.
    assert resized_shape(56, 56, SMALL) == (56, 56)
    # 100×200 → rounded 112×196 is above 56·56 = 3136: β = √(20000/3136) = 2.525;
    # 100/β/28 = 1.41 → 28, 200/β/28 = 2.83 → 56.
    assert resized_shape(100, 200, SMALL) == (28, 56)
    # Below min_pixels 3136: 28×28 with β = √(3136/784) = 2 → 56×56.
    assert resized_shape(28, 28, VideoConfig(min_pixels=3136, max_pixels=3136)) == (56, 56)
    # The paper's bounds on 480×854: 476×840 = 399,840 > 200,704 → β = √(409,920/200,704) = 1.4291;
    # 480/β/28 = 11.99 → 308, 854/β/28 = 21.34 → 588.
    assert resized_shape(480, 854, VideoConfig()) == (308, 588)


def test_patch_rows_follow_the_documented_layout():
    # Hand-built frames with a distinct value per (frame, row, col, channel): T=3 (padded to 4 by repeating
    # the last frame), 28×56 → grid (2, 2, 4).
    t, h, w = 3, 28, 56
    tt, yy, xx, cc = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    frames = ((tt * 37 + yy * 3 + xx * 2 + cc * 50) % 256).astype(np.uint8)
    out = patchify(frames, SMALL)
    assert out.grid_thw.tolist() == [2, 2, 4]
    assert out.pixel_values.shape == (2 * 2 * 4, 1176)
    assert out.num_video_tokens(merge_size=2) == 4

    def norm(value, c):
        return (value / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c]

    # Row 5: temporal block 0, merge block (0, 1), position (0, 1) inside it → patch row 0, patch col 3:
    # pixels y ∈ [0, 14), x ∈ [42, 56).  Inside a row: channel, then frame in patch, then y, then x.
    row = out.pixel_values[5]
    for c in range(3):
        for f in range(2):
            for py in range(14):
                for px in range(14):
                    expected = norm(frames[f, py, 42 + px, c], c)
                    assert row[c * 392 + f * 196 + py * 14 + px] == pytest.approx(expected, abs=1e-6)
    # Row 8 is temporal block 1 = frames (2, 2): frame 2 repeated; patch (0, 0).
    second = out.pixel_values[8].reshape(3, 2, 14, 14)
    assert np.allclose(second[:, 0], second[:, 1])
    assert second[1, 0, 3, 4] == pytest.approx(norm(frames[2, 3, 4, 1], 1), abs=1e-6)


def test_decoded_clip_patches_match_the_hand_built_colours(tmp_path):
    # 56×56 quadrants of 28×28: each quadrant is exactly one 2×2 merge block, so rows 0-3 are the top-left
    # colour, 4-7 top-right, 8-11 bottom-left, 12-15 bottom-right (for temporal block 0: frames 0, 1).
    frames = [quadrant_frame(0), quadrant_frame(0), quadrant_frame(1), quadrant_frame(1)]
    path = write_clip(tmp_path / "q.mp4", frames, fps=4, pix_fmt="yuv444p")
    out = ClipCache(None, SMALL).patches(path)
    assert out.grid_thw.tolist() == [2, 4, 4]
    for block in range(4):
        colour = QUADRANT_COLOURS[block]
        expected = (colour / 255.0 - CLIP_MEAN) / CLIP_STD  # per channel
        rows = out.pixel_values[block * 4:(block + 1) * 4].reshape(4, 3, 2 * 14 * 14)
        # Lossless H.264 4:4:4 leaves at most 1/255 of colour-conversion error.
        assert np.abs(rows - expected[None, :, None]).max() < 1.5 / 255 / CLIP_STD.min()


def test_missing_and_corrupt_files_raise_errors_naming_the_file(tmp_path):
    with pytest.raises(VideoDecodeError, match="not found.*nowhere.mp4"):
        sample_frames(tmp_path / "nowhere.mp4", SMALL)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        sample_frames(broken, SMALL)


def test_clip_cache_decodes_once_and_keys_on_content_and_params(tmp_path):
    path = indexed_clip(tmp_path / "a.mp4", 24, 8)
    cache = ClipCache(tmp_path / "cache", SMALL)
    first = cache.get(path)
    second = cache.get(path)
    assert (cache.misses, cache.hits) == (1, 1)
    assert np.array_equal(first.frames, second.frames)
    assert second.indices.tolist() == first.indices.tolist()
    # A different sampling rate is another entry: 3 s at 4 fps = 12 frames instead of 6.
    other = ClipCache(tmp_path / "cache", VideoConfig(min_pixels=784, max_pixels=3136, fps=4.0))
    assert other.get(path).frames.shape[0] == 12
    assert other.misses == 1
    # New content under the same name is a miss too (the key is the file hash, not the name).
    indexed_clip(path, 16, 8)
    assert cache.get(path).frames.shape[0] == 4
    assert cache.misses == 2


def test_every_patch_row_matches_a_pixel_by_pixel_build_for_four_frame_patches():
    # An independent route: each row assembled pixel by pixel from the documented order (merge blocks row-major,
    # 2×2 positions inside; channel, frame in patch, y, x inside a row), 5 frames padded to 8 by the last one.
    cfg = VideoConfig(fps=2, min_frames=2, max_frames=8, min_pixels=28 * 28, max_pixels=56 * 56,
                      temporal_patch_size=4)
    frames = np.random.default_rng(3).integers(0, 256, (5, 28, 56, 3), dtype=np.uint8)
    out = patchify(frames, cfg)
    assert out.grid_thw.tolist() == [2, 2, 4]
    padded = np.concatenate([frames, np.repeat(frames[-1:], 3, axis=0)])
    rows = []
    for block_t in range(2):
        for by in range(1):  # merge-block rows: 2 patch rows / 2
            for bx in range(2):  # merge-block cols: 4 patch cols / 2
                for iy in range(2):
                    for ix in range(2):
                        y0, x0 = (2 * by + iy) * 14, (2 * bx + ix) * 14
                        row = [(padded[4 * block_t + f, y0 + py, x0 + px, c] / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c]
                               for c in range(3) for f in range(4) for py in range(14) for px in range(14)]
                        rows.append(row)
    np.testing.assert_allclose(out.pixel_values, np.array(rows), rtol=0, atol=1e-6)
