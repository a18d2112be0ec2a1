import numpy as np
import pytest
import torch

import alignment.latents as latents_module
from alignment.codec import PixelUnshuffleCodec
from alignment.latents import ClipSpec, LatentCache, VideoMetadataError, conform_frames, load_clip
from alignment.video_io import VideoReadError, write_video


def _ramp_video(n_frames: int) -> np.ndarray:
    """Frame k is a flat grey of level 10·k, so a sampled frame tells which source frame it was."""
    frames = np.zeros((n_frames, 16, 16, 3), np.uint8)
    for k in range(n_frames):
        frames[k] = 10 * k
    return frames


def test_frame_sampling_follows_fps():
    frames = _ramp_video(12)
    # source 24 fps sampled at 8 fps: times 0, 1/8, 2/8, 3/8 s → source frames 0, 3, 6, 9
    clip = conform_frames(frames, 24.0, ClipSpec(num_frames=4, height=16, width=16, fps=8.0))
    levels = ((clip[0, :, 0, 0] + 1) * 127.5).round()
    assert levels.tolist() == [0.0, 30.0, 60.0, 90.0]
    with pytest.raises(VideoMetadataError, match="12 frames are too few for 5 frames at 8.0 fps"):
        conform_frames(frames, 24.0, ClipSpec(num_frames=5, height=16, width=16, fps=8.0))


def test_resize_keeps_a_flat_frame_flat():
    clip = conform_frames(_ramp_video(3), None, ClipSpec(num_frames=2, height=8, width=4))
    assert clip.shape == (3, 2, 8, 4)
    assert torch.allclose(clip[:, 1], torch.full((3, 8, 4), 10 / 127.5 - 1), atol=1e-5)


def test_declared_frame_count_must_match_the_file(tmp_path):
    path = write_video(tmp_path / "v.mp4", _ramp_video(9), fps=8)
    assert load_clip(path, ClipSpec(9, 16, 16), declared_fps=8.0, declared_num_frames=9).shape == (3, 9, 16, 16)
    with pytest.raises(VideoMetadataError, match="v.mp4: the export declares 12 frames, the file has 9"):
        load_clip(path, ClipSpec(9, 16, 16), declared_num_frames=12)
    with pytest.raises(VideoMetadataError, match="declares 24.0 fps, the file has 8.000"):
        load_clip(path, ClipSpec(9, 16, 16), declared_fps=24.0)
    with pytest.raises(VideoReadError, match="video file not found"):
        load_clip(tmp_path / "missing.mp4", ClipSpec(9, 16, 16))


def test_cache_encodes_once_and_notices_changes(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v.webm", _ramp_video(4), fps=8)
    cache = LatentCache(tmp_path / "cache", PixelUnshuffleCodec(2), ClipSpec(4, 16, 16))
    first = cache.get(path)
    assert first.shape == (12, 4, 8, 8)
    # frame 2 is a flat 20/127.5 − 1 in every channel (within the codec's loss)
    assert torch.allclose(first[:, 2], torch.full((12, 8, 8), 20 / 127.5 - 1), atol=0.05)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(latents_module, "read_video", no_decoding)
    assert torch.equal(cache.get(path), first)
    other_spec = LatentCache(tmp_path / "cache", PixelUnshuffleCodec(2), ClipSpec(2, 16, 16))
    with pytest.raises(AssertionError, match="decoded again"):
        other_spec.get(path)
